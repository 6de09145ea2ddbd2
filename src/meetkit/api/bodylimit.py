"""Caps on request bodies, enforced before routing and authentication (finding 2 of issue 10).

A body that declares a length over the cap is refused before a byte of it is read; a streamed
(chunked) body is counted as it arrives and refused the moment it passes the cap, without reading
on. Either way the answer is a 413 in the contract's shape, and the connection is closed so the
rest of the body is never read. What the application does after a refusal (it sees the client as
gone) is dropped: one request, one answer."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..config import Settings
from ..domain.links import API_PREFIX

log = logging.getLogger("meetkit.api")

# The upload endpoint refuses fields over 64 KiB and a file over its policy's limit itself (in S3's
# XML); its cap here is a backstop with room for those fields, the framing and one network read, so
# the endpoint's own, more precise answer comes first.
UPLOAD_FORM_OVERHEAD = 1024 * 1024
UPLOAD_FIELDS_LIMIT = 64 * 1024


def upload_route_limits(settings: Settings) -> dict[str, int]:
    """The logo upload endpoint's own cap (the largest file a policy admits, plus its form), and the
    whiteboard's images' (web/board.py) and watch together's videos' (web/watch.py)."""
    return {f"{API_PREFIX}/uploads": settings.max_upload_bytes + UPLOAD_FORM_OVERHEAD,
            "/_meetkit/board/*": settings.max_board_file_bytes,
            "/_meetkit/watch/*": settings.max_watch_file_bytes}


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the HTTP server refuses a malformed length before the app sees it
    return None


def _too_large(cap: int) -> tuple[list[tuple[bytes, bytes]], bytes]:
    body = json.dumps({"message": f"the request body is larger than the limit of {cap} bytes",
                       "name": "PayloadTooLargeError", "status": 413}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
               (b"connection", b"close")]
    return headers, body


class BodyLimit:
    """``limit`` bytes for any request body; ``route_limits`` maps exact paths (after the prefix
    aliases are resolved) to their own caps, e.g. the logo upload endpoint's larger one."""

    def __init__(self, app: ASGIApp, *, limit: int, route_limits: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.limit = limit
        self.route_limits = dict(route_limits or {})

    def cap_for(self, path: str) -> int:
        # A key ending in ``*`` caps every path under it (the whiteboard's images: /_meetkit/board/...).
        for key, cap in self.route_limits.items():
            if key.endswith("*") and path.startswith(key[:-1]):
                return cap
        return self.route_limits.get(path, self.limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap = self.cap_for(scope.get("path", ""))
        declared = _declared_length(scope)
        if declared is not None and declared > cap:
            await self._refuse(send, cap)
            return
        received = 0
        refused = answered = started = False

        async def counted_receive() -> Message:
            nonlocal received, refused, answered
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    refused = True
                    if not started:  # a handler that already answered only hears the client leave
                        await self._refuse(send, cap)
                        answered = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if answered:
                return  # the 413 went out instead; the application's own answer is dropped
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:
            if not refused:
                raise
            # The application saw its client go away mid-body (e.g. ClientDisconnect): expected.
            log.debug("request body over %d bytes refused; the handler stopped reading", cap)

    @staticmethod
    async def _refuse(send: Send, cap: int) -> None:
        headers, body = _too_large(cap)
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})
