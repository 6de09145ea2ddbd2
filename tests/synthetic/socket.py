"""A lean meeting-socket client for synthetic participants: frames in order, bounded waits.

Unlike tests/signalling_client.Peer it does not check every frame against the schema unless asked
(``validate=True``): a load generator with hundreds of sockets must not spend the machine on that."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import websockets


class MeetingSocket:
    def __init__(self, ws: Any, validate: bool) -> None:
        self.ws = ws
        self.validate = validate
        self.frames: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.feeds: dict[str, int] = {}  # participant id -> camera feed, as the socket was told
        self.on_frame: list[Any] = []  # callbacks(frame), called in order of arrival
        self.participant_id = ""  # from welcome
        self.invalid: list[str] = []  # frames that did not match the schema (validate=True)
        self.queueing = True  # off once joined: later frames go to on_frame only, not to expect()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, base_url: str, code: str, hello: dict[str, Any], validate: bool = False) -> MeetingSocket:
        url = base_url.replace("http", "ws", 1) + f"/_meetkit/ws/{code}"
        ws = await asyncio.wait_for(websockets.connect(url, max_size=2**22, max_queue=None), 20)
        sock = cls(ws, validate)
        await sock.send(hello)
        return sock

    async def _read(self) -> None:
        from meetkit.signalling import protocol

        try:
            async for raw in self.ws:
                frame = json.loads(raw)
                if self.validate:
                    try:
                        protocol.SERVER_MESSAGE.validate_python(frame)
                    except ValueError as exc:  # a finding for the test to report, not the end of the reader
                        self.invalid.append(f"{frame.get('type')}: {exc}"[:2000])
                try:
                    self._track_feeds(frame)
                    for callback in self.on_frame:
                        callback(frame)
                except Exception as exc:  # a bug here must show, and not end the reader
                    self.invalid.append(f"{frame.get('type')}: {type(exc).__name__}: {exc}")
                if self.queueing:
                    await self.frames.put(frame)
        except websockets.ConnectionClosed:
            pass
        finally:
            await self.frames.put(None)

    def _track_feeds(self, frame: dict[str, Any]) -> None:
        if frame["type"] == "welcome":
            self.participant_id = str(frame["participant_id"])
        people = list(frame.get("participants") or []) if frame["type"] == "admitted" else []
        if isinstance(frame.get("participant"), dict):
            people.append(frame["participant"])
        for person in people:
            camera = (person.get("feeds") or {}).get("camera")
            if camera:
                self.feeds[person["participant_id"]] = int(camera)
            else:
                self.feeds.pop(person["participant_id"], None)
        if frame["type"] == "participant.left":
            self.feeds.pop(frame.get("participant_id", ""), None)

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))

    async def expect(self, *types: str, timeout: float = 15.0) -> dict[str, Any]:
        """The next frame of one of these types (others are skipped)."""
        async with asyncio.timeout(timeout):
            while True:
                frame = await self.frames.get()
                if frame is None:
                    raise ConnectionError(f"the meeting socket closed while waiting for {types}")
                if frame["type"] in types:
                    return frame

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(), 5)
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._reader
