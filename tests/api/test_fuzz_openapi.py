"""Property-based run over meetkit's own OpenAPI description: whatever is sent, no 500, and every
error answers in the contract's shape."""

from __future__ import annotations

import warnings

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from meetkit.client import MeetingsClient

from ..support import Server

pytestmark = pytest.mark.fuzz

EXAMPLES_PER_OPERATION = 25


def _check(resp: schemathesis.Response, what: str) -> None:
    status = resp.status_code
    assert status < 500, f"{what} -> {status}: {resp.text[:500]}"
    ctype = (resp.headers.get("content-type") or [""])[0]
    if status >= 400 and ctype.startswith("application/json"):
        body = resp.json()
        if status == 401:
            assert set(body) == {"title", "detail"}, body
        else:
            assert {"message", "name", "status"} <= set(body) and body["status"] == status, body


def test_no_input_causes_a_server_error(server: Server, client: MeetingsClient) -> None:
    raw = httpx.get(f"{server.base_url}/v1/meetings/openapi.json", verify=server.ssl).json()
    schema = schemathesis.openapi.from_dict(raw)
    # Some real ids, so generated requests also reach the code behind a found resource.
    room = client.create_room({"display_name": "fuzz"})
    theme = client.create_theme({"main_color": "#123456", "brand_text": "fuzz"})
    known = {"room_id": room["id"], "theme_id": theme["theme_id"]}
    operations = [op.ok() for op in schema.get_all_operations()]
    assert len(operations) >= 15
    sent = 0
    counter = {"sent": 0}
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _fuzz(operation, mode, server, client, known, counter)
            except Unsatisfiable:
                # Nothing to make invalid (an operation without parameters or body): positive mode covers it.
                assert mode is GenerationMode.NEGATIVE
    sent = counter["sent"]
    assert sent >= len(operations) * 10


def _fuzz(operation: schemathesis.APIOperation, mode: GenerationMode, server: Server, client: MeetingsClient,
          known: dict[str, str], counter: dict[str, int]) -> None:
    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode), use_known=st.booleans())
    def run(case: schemathesis.Case, use_known: bool) -> None:
        if use_known and case.path_parameters:
            for name in list(case.path_parameters):
                if name in known:
                    case.path_parameters[name] = known[name]
        headers = dict(case.headers or {})
        headers["Authorization"] = f"Bearer {client.token()}"
        case.headers = headers
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            resp = case.call(base_url=server.base_url, verify=str(server.cert_path), timeout=30)
        counter["sent"] += 1
        _check(resp, f"{case.method} {case.formatted_path} {mode.value}")

    run()
