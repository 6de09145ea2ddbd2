"""A test participant: a real WebSocket to meetkit's meeting socket, frames checked against the schema."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

from meetkit.signalling import protocol


class Peer:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.frames: list[dict[str, Any]] = []
        self._queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._reader = asyncio.create_task(self._read())
        self.close_code: int | None = None
        self.welcome: dict[str, Any] = {}
        self.waiting: dict[str, dict[str, Any]] = {}  # the lobby as this host was told (lobby_until)

    @classmethod
    async def open(cls, base_url: str, code: str, name: str = "Ann", *, host_token: str | None = None,
                   resume: dict[str, str] | None = None, hello: dict[str, Any] | None = None,
                   **connect: Any) -> Peer:
        """``connect`` goes to ``websockets.connect`` (e.g. ``local_addr=("127.0.0.7", 0)``)."""
        url = base_url.replace("http", "ws", 1) + f"/_meetkit/ws/{code}"
        ws = await asyncio.wait_for(websockets.connect(url, max_size=2**20, **connect), 10)
        peer = cls(ws)
        if hello is None:
            hello = {"type": "hello", "v": 1, "name": name, "mic": True, "camera": True}
            if host_token is not None:
                hello["host_token"] = host_token
            if resume is not None:
                hello["resume"] = resume
        await peer.send(hello)
        return peer

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                frame = json.loads(raw)
                protocol.SERVER_MESSAGE.validate_python(frame)  # every frame matches the documented schema
                self.frames.append(frame)
                await self._queue.put(frame)
        except websockets.ConnectionClosed:
            pass
        finally:
            self.close_code = self.ws.close_code
            await self._queue.put(None)

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))

    async def expect(self, type_: str, timeout: float = 5.0, **match: Any) -> dict[str, Any]:
        """The next frame of this type (others are kept in ``frames`` and skipped)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            left = deadline - loop.time()
            if left <= 0:
                raise AssertionError(f"no {type_} within {timeout}s; got {[f['type'] for f in self.frames]}")
            try:
                frame = await asyncio.wait_for(self._queue.get(), left)
            except TimeoutError:
                continue
            if frame is None:
                raise AssertionError(f"socket closed ({self.close_code}) while waiting for {type_}; "
                                     f"got {[f['type'] for f in self.frames]}")
            if frame["type"] == "welcome":
                self.welcome = frame
            if frame["type"] == type_ and all(frame.get(k) == v for k, v in match.items()):
                return frame

    async def lobby_until(self, done: Callable[[list[str]], bool], timeout: float = 5.0) -> list[str]:
        """The names in the lobby as this host's ``lobby.update`` frames tell it (a full list, then
        added/removed deltas), read until ``done`` holds them."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not done(names := [w["name"] for w in self.waiting.values()]):
            frame = await self.expect("lobby.update", timeout=max(0.0, deadline - loop.time()))
            if "waiting" in frame:
                self.waiting = {w["participant_id"]: w for w in frame["waiting"]}
            for w in frame["added"]:
                self.waiting[w["participant_id"]] = w
            for key in frame["removed"]:
                self.waiting.pop(key, None)
            assert frame["count"] == len(self.waiting), frame
        return names

    async def closed(self, timeout: float = 5.0) -> int | None:
        await asyncio.wait_for(asyncio.shield(self._reader), timeout)
        return self.close_code

    async def close(self) -> None:
        await self.ws.close()
        await asyncio.wait_for(asyncio.shield(self._reader), 5)

    async def drop(self) -> None:
        """The network goes away: no close handshake."""
        self.ws.transport.abort()
        await asyncio.wait_for(asyncio.shield(self._reader), 5)

    @property
    def id(self) -> str:
        return str(self.welcome["participant_id"])
