"""One browser socket with its own bounded outgoing queue, so a slow browser delays nobody else."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

from . import protocol

log = logging.getLogger("meetkit.signalling")

SEND_QUEUE = 2000


class Socket(Protocol):
    """What meetkit needs of a WebSocket (Starlette's, or a test's)."""

    async def send_text(self, data: str) -> None: ...
    async def receive_text(self) -> str: ...
    async def close(self, code: int = 1000) -> None: ...


class Connection:
    def __init__(self, ws: Socket) -> None:
        self.ws = ws
        self._queue: asyncio.Queue[str | tuple[int] | None] = asyncio.Queue(maxsize=SEND_QUEUE)
        self._pump = asyncio.create_task(self._run(), name="ws-send")
        self.closed = False

    def send(self, message: protocol.ServerMessage | str) -> None:
        if self.closed:
            return
        frame = message if isinstance(message, str) else message.frame()
        try:
            self._queue.put_nowait(frame)
        except asyncio.QueueFull:
            log.warning("a browser is not reading its socket; closing it")
            self.close(protocol.CLOSE_PROTOCOL)

    def close(self, code: int) -> None:
        if self.closed:
            return
        self.closed = True
        if self._queue.full():  # a browser that stopped reading: what it has not read is dropped
            while not self._queue.empty():
                self._queue.get_nowait()
        self._queue.put_nowait((code,))

    async def _run(self) -> None:
        try:
            while True:
                item = await self._queue.get()
                if item is None:
                    return
                if isinstance(item, tuple):
                    with contextlib.suppress(Exception):
                        await self.ws.close(item[0])
                    return
                await self.ws.send_text(item)
        except Exception:  # the socket went away: the receive loop notices and cleans up
            self.closed = True

    async def drain(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.shield(self._pump), 2.0)
