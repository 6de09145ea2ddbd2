"""The OpenAPI description served at /v1/meetings/openapi.json says what the server really does."""

from __future__ import annotations

import httpx
from openapi_spec_validator import validate

from meetkit.client import MeetingsClient

from ..support import Server


def test_openapi_description_is_valid_and_true(server: Server, client: MeetingsClient) -> None:
    spec = httpx.get(f"{server.base_url}/v1/meetings/openapi.json", verify=server.ssl).json()
    validate(spec)
    paths = spec["paths"]
    for name in ("/v1/meetings/rooms", "/v1/meetings/rooms/{room_id}", "/v1/meetings/themes",
                 "/v1/meetings/themes/logos-upload-urls", "/v1/meetings/themes/{theme_id}/finalizeLogos",
                 "/v1/meetings/applications", "/v1/meetings/recordings/{recording_id}",
                 "/v1/meetings/sessions/{session_id}/recordings", "/v1/meetings/dial-in-numbers"):
        assert name in paths, name
    assert spec["components"]["securitySchemes"]["applicationJwt"]["scheme"] == "bearer"
    for path, operations in paths.items():
        for method, op in operations.items():
            assert "422" not in op["responses"], (method, path)  # invalid input is a 400 here
            public = path.endswith("/download") or "/uploads" in path or "/assets/" in path
            assert ("security" in op) is not public, (method, path)
            if not public:
                assert "401" in op["responses"], (method, path)
                assert "429" in op["responses"], (method, path)  # the fair share (api/fairness.py)
            if "requestBody" in op or path.endswith("/uploads"):
                assert "413" in op["responses"], (method, path)  # the body-size cap (issue 10)
    # What it promises for invalid input is what comes back.
    resp = client.request("GET", "/rooms", params={"page_size": 0})
    assert resp.status_code == 400 and "400" in paths["/v1/meetings/rooms"]["get"]["responses"]
    assert httpx.get(f"{server.base_url}/v1/meetings/docs", verify=server.ssl).status_code == 200
