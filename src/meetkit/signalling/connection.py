"""One browser socket with its own bounded outgoing queue, so a slow browser delays nobody else."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Mapping
from typing import Any, Protocol

from fastapi import WebSocketDisconnect

from . import protocol

log = logging.getLogger("meetkit.signalling")

SEND_QUEUE = 2000  # frames (MEETKIT_SOCKET_SEND_QUEUE_FRAMES)
SEND_QUEUE_BYTES = 8 * 1024 * 1024  # characters of JSON text (MEETKIT_SOCKET_SEND_QUEUE_BYTES)


class Socket(Protocol):
    """What meetkit needs of a WebSocket (Starlette's, or a test's)."""

    async def send_text(self, data: str) -> None: ...
    async def receive(self) -> Mapping[str, Any]: ...
    async def close(self, code: int = 1000) -> None: ...


async def receive_frame(ws: Socket) -> str | None:
    """The next text frame; None for a binary frame (meetkit speaks JSON text only). A closed socket
    raises ``WebSocketDisconnect``, as Starlette's ``receive_text`` does."""
    message = await ws.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000), message.get("reason"))
    text = message.get("text")
    return text if isinstance(text, str) else None


class Connection:
    """``send`` never waits: frames queue for the pump. A socket whose queue passes ``max_frames`` or
    ``max_bytes`` is not reading fast enough; it is closed 4408 (the browser resumes) and only it."""

    def __init__(self, ws: Socket, max_frames: int = SEND_QUEUE, max_bytes: int = SEND_QUEUE_BYTES) -> None:
        self.ws = ws
        self.max_frames, self.max_bytes = max_frames, max_bytes
        self._queue: deque[str] = deque()
        self._bytes = 0
        self._ready = asyncio.Event()
        self._close_code: int | None = None
        self._pump = asyncio.create_task(self._run(), name="ws-send")
        self.closed = False
        self._aborted = False

    def send(self, message: protocol.ServerMessage | str) -> None:
        if self.closed:
            return
        frame = message if isinstance(message, str) else message.frame()
        # One frame always fits an empty queue (an admitted or a chat export may be big on its own).
        if self._queue and (len(self._queue) >= self.max_frames or self._bytes + len(frame) > self.max_bytes):
            log.warning("a browser is not reading its socket; closing it")
            self.abort(protocol.CLOSE_SLOW_READER)
            return
        self._queue.append(frame)
        self._bytes += len(frame)
        self._ready.set()

    def close(self, code: int) -> None:
        """Close after what is queued has gone out (a ``denied`` or ``removed`` reaches the browser first)."""
        if self.closed:
            return
        self.closed = True
        self._close_code = code
        self._ready.set()

    def abort(self, code: int) -> None:
        """Close now: what the browser has not read is dropped, and a send stuck on its full socket is
        given up, so the close does not wait behind it."""
        if self._aborted:
            return
        self._aborted = True
        self.closed = True
        self._queue.clear()
        self._bytes = 0
        self._pump.cancel()
        self._pump = asyncio.create_task(self._close_socket(code), name="ws-close")

    async def _close_socket(self, code: int) -> None:
        with contextlib.suppress(Exception):
            await self.ws.close(code)

    async def _run(self) -> None:
        try:
            while True:
                await self._ready.wait()
                if self._queue:
                    frame = self._queue.popleft()
                    self._bytes -= len(frame)
                    await self.ws.send_text(frame)
                    continue
                self._ready.clear()
                if self._close_code is not None:
                    await self._close_socket(self._close_code)
                    return
        except Exception:  # the socket went away: the receive loop notices and cleans up
            self.closed = True

    @property
    def queued(self) -> int:
        return len(self._queue)

    async def drain(self) -> None:
        """Wait (2 s at most) for what is queued and the close to go out; then give up on the pump,
        so a peer that never reads holds neither a task nor its queue after the session ends."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.shield(self._pump), 2.0)
        if not self._pump.done():
            self._pump.cancel()
            self._queue.clear()
            self._bytes = 0
