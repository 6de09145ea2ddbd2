"""The first stop of every request: API prefix aliases, and targets no storage can hold (NUL, broken UTF-8)."""

from __future__ import annotations

import json
from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Receive, Scope, Send

from ..domain.links import API_PREFIX

# Older SDK versions used these prefixes; they are served by the same routes as /v1/meetings.
ALIASES = ("/beta/meetings", "/meetings")


class TargetGuard:
    """Refuses unstorable targets, and maps the older API prefixes onto /v1/meetings (one router, so
    route matching is paid once)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope.get("path", "")
            for alias in ALIASES:
                if path == alias or path.startswith(alias + "/"):
                    new_path = API_PREFIX + path[len(alias):]
                    scope = {**scope, "path": new_path, "raw_path": new_path.encode()}
                    break
        if scope["type"] == "http" and not _storable_target(scope):
            body = json.dumps({"message": "the request path or query holds characters that are not allowed",
                               "name": "InputValidationError", "status": 400}).encode()
            await send({"type": "http.response.start", "status": 400,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


def _storable_target(scope: Scope) -> bool:
    path: str = scope.get("path", "")
    query: bytes = scope.get("query_string", b"")
    if "\x00" in path or b"%00" in query.lower() or b"\x00" in query:
        return False
    try:
        path.encode("utf-8")
        raw = scope.get("raw_path")
        if raw is not None:
            unquote_to_bytes(raw).decode("utf-8")
        unquote_to_bytes(query.replace(b"+", b" ")).decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return False
    return True
