"""The webhook worker's HTTP/1.1 client: h11 over asyncio streams, one kept-alive connection per target.

Deliveries to one target go one at a time, so a target reuses one connection. Nothing here follows
redirects, uses a proxy or retries (a failed request is a failed attempt; the retry policy is
domain/delivery.py's). Which address to connect to is decided before (worker/webhook_targets.py)."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from dataclasses import dataclass
from typing import Any

import h11
import httpx

_READ_LIMIT = 64 * 1024  # a receiver's answer is read (to keep the connection) only when this small
_MAX_HEAD = 100 * 1024  # the status line and headers of an answer
_CHUNK = 64 * 1024
_KEEPALIVE = 4.0  # seconds an idle connection is kept: less than the 5 s after which many servers close one


@dataclass(frozen=True)
class Origin:
    scheme: str
    host: str  # what is connected to: the checked address (or the URL's host, when private targets are allowed)
    port: int
    server_name: str  # the URL's host: TLS server name and the name the certificate is checked against


class HTTPFailure(Exception):
    """A request that got no answer; the message (a short class name, as httpx names them) is the error."""


def _small_framed_body(response: h11.Response) -> bool:
    """Whether the answer's body ends within ``_READ_LIMIT`` at a known place (or there is none). A body
    that ends when the connection closes, or a large one, is not read: the connection is closed instead."""
    if response.status_code in (204, 304):
        return True
    length = [v for k, v in response.headers if k == b"content-length"]
    if length:
        return length[0].isdigit() and int(length[0]) <= _READ_LIMIT
    return any(k == b"transfer-encoding" and v.lower().endswith(b"chunked") for k, v in response.headers)


class _Connection:
    def __init__(self, origin: Origin, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.origin = origin
        self._reader = reader
        self._writer = writer
        self._h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=_MAX_HEAD)
        self.idle_since = 0.0
        self.answered = False  # whether the receiver sent anything since the current request began

    @classmethod
    async def open(cls, origin: Origin, tls: ssl.SSLContext) -> _Connection:
        https = origin.scheme == "https"
        try:
            reader, writer = await asyncio.open_connection(
                origin.host, origin.port, ssl=tls if https else None,
                server_hostname=origin.server_name if https else None)
        except (OSError, ValueError) as exc:  # refused, unreachable, TLS handshake or certificate, bad name
            raise HTTPFailure("ConnectError") from exc
        return cls(origin, reader, writer)

    def reusable(self, now: float) -> bool:
        return (now - self.idle_since < _KEEPALIVE and self._h11.our_state is h11.IDLE
                and self._h11.their_state is h11.IDLE and not self._writer.is_closing() and not self._reader.at_eof())

    async def request(self, target: bytes, headers: list[tuple[str, str]], body: bytes) -> h11.Response:
        """Send a POST; the answer's status line and headers."""
        self.answered = False
        try:
            data = (self._h11.send(h11.Request(method="POST", target=target, headers=headers)) or b"") \
                + (self._h11.send(h11.Data(data=body)) or b"") + (self._h11.send(h11.EndOfMessage()) or b"")
        except h11.LocalProtocolError as exc:
            raise HTTPFailure("LocalProtocolError") from exc
        try:
            self._writer.write(data)
            await self._writer.drain()
        except OSError as exc:
            raise HTTPFailure("WriteError") from exc
        while True:
            event = await self._next_event()
            if isinstance(event, h11.Response):
                return event
            if not isinstance(event, h11.InformationalResponse):  # 1xx: the answer is still to come
                raise HTTPFailure("RemoteProtocolError")

    async def finish(self, response: h11.Response) -> bool:
        """Read the rest of the answer when it is small and its end is known, so that the connection can
        be reused; True when it can."""
        if not _small_framed_body(response):
            return False
        event: Any = None
        size = 0
        while not isinstance(event, h11.EndOfMessage):
            event = await self._next_event()
            if isinstance(event, h11.Data):
                size += len(event.data)
                if size > _READ_LIMIT:
                    return False
            elif not isinstance(event, h11.EndOfMessage):
                return False
        if self._h11.our_state is h11.DONE and self._h11.their_state is h11.DONE:
            self._h11.start_next_cycle()
            return True
        return False

    async def _next_event(self) -> Any:
        while True:
            try:
                event = self._h11.next_event()
            except h11.RemoteProtocolError as exc:
                raise HTTPFailure("RemoteProtocolError") from exc
            if event is not h11.NEED_DATA:
                if isinstance(event, h11.ConnectionClosed):
                    raise HTTPFailure("RemoteProtocolError")
                return event
            try:
                data = await self._reader.read(_CHUNK)
            except OSError as exc:
                raise HTTPFailure("ReadError") from exc
            self.answered = self.answered or bool(data)
            self._h11.receive_data(data)  # b"" is the end of the stream

    def close(self) -> None:
        self._writer.close()


class Outbound:
    """POSTs with keep-alive connections, at most ``max_idle`` of them idle (each for ``_KEEPALIVE`` s).
    TLS is checked against ``tls`` (by default the CA bundle httpx uses, without the environment's)."""

    def __init__(self, max_idle: int, tls: ssl.SSLContext | None = None) -> None:
        self._max_idle = max_idle
        self._idle: list[_Connection] = []  # oldest first
        self._tls = tls or httpx.create_ssl_context(trust_env=False)
        self._tls.set_alpn_protocols(["http/1.1"])

    async def post(self, origin: Origin, target: bytes, headers: list[tuple[str, str]], body: bytes) -> int:
        """The status of the answer to a POST of ``body``. A kept-alive connection that fails before the
        receiver says anything was most likely closed by the receiver meanwhile (its FIN still on its
        way): the request is sent once more, on a new connection. (Should the receiver have taken it
        the first time, that is one more at-least-once repeat, with the same idempotency key.)"""
        conn = self._take(origin)
        if conn is not None:
            try:
                return await self._exchange(conn, target, headers, body)
            except HTTPFailure:
                if conn.answered:
                    raise
        return await self._exchange(await _Connection.open(origin, self._tls), target, headers, body)

    async def _exchange(self, conn: _Connection, target: bytes, headers: list[tuple[str, str]], body: bytes) -> int:
        keep = False
        try:
            response = await conn.request(target, headers, body)
            with contextlib.suppress(HTTPFailure):  # the status is the answer; the rest only keeps the connection
                keep = await conn.finish(response)
            return int(response.status_code)
        finally:
            if keep:
                conn.idle_since = time.monotonic()
                self._idle.append(conn)
                self._prune()
            else:
                conn.close()

    def _take(self, origin: Origin) -> _Connection | None:
        self._prune()
        now = time.monotonic()
        for i in range(len(self._idle) - 1, -1, -1):
            conn = self._idle[i]
            if conn.origin == origin:
                del self._idle[i]
                if conn.reusable(now):
                    return conn
                conn.close()
        return None

    def _prune(self) -> None:
        now = time.monotonic()
        while self._idle and (len(self._idle) > self._max_idle or now - self._idle[0].idle_since >= _KEEPALIVE):
            self._idle.pop(0).close()

    def close(self) -> None:
        while self._idle:
            self._idle.pop().close()

