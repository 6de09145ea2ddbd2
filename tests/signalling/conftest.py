"""The signalling tier: the meeting socket protocol against real servers (media off), on both databases."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from meetkit.client import MeetingsClient

from ..conftest import BACKENDS
from ..support import Server, create_application, start_server, stop_server

ENV = {
    "MEETKIT_ALLOW_PRIVATE_CALLBACK_TARGETS": "true",
    "MEETKIT_WEBHOOK_INITIAL_BACKOFF": "0.05",
    "MEETKIT_WEBHOOK_POLL_INTERVAL": "0.05",
    "MEETKIT_MAX_PARTICIPANTS": "3",
    "MEETKIT_RESUME_GRACE": "1.5",
    "MEETKIT_MEDIA_MODE": "off",
}


@pytest.fixture(scope="module", params=BACKENDS)
def meet_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(request.param, tmp_path_factory.mktemp(f"meet-{request.param}"), ENV, tls=False)
    yield srv
    stop_server(srv)


@pytest.fixture(scope="module")
def app_client(meet_server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MeetingsClient]:
    app_id, key = create_application(meet_server, tmp_path_factory.mktemp("keys"))
    with MeetingsClient(meet_server.base_url, app_id, key) as c:
        yield c
