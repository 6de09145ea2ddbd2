"""The room's recording switch: started by a host (or at the start of every session with
``auto_record``), each recorded participant's feeds written by Janus into the recording's folder,
stopped by a host or when the session ends. Every method runs with the room lock held."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from ..actions import recordings
from ..errors import Conflict
from . import protocol
from .node import MEDIA_TIMEOUT
from .participant import Participant

if TYPE_CHECKING:
    from .room import Room

log = logging.getLogger("meetkit.signalling")


class Recording:
    def __init__(self, room: Room) -> None:
        self.room = room
        self.available = True
        self.auto_record = False
        self.only_owner = False  # record_only_owner: hosts' feeds and screen shares only (see recorded)
        self.recording_id: str | None = None
        self._dir: str | None = None
        self._seq = 0

    def active(self) -> bool:
        return self.recording_id is not None

    def forget(self) -> None:
        """A new session started: a recording of an earlier one is not this session's."""
        self.recording_id = None

    def recorded(self, m: Participant, kind: str) -> bool:
        """Whether the ``kind`` feed of ``m`` is written. The contract's ``record_only_owner``: "Record
        only the owner screen or any share screen of the video": the hosts' camera and screen, and a
        screen shared by anyone (what a meeting shows to all); never a guest's camera or microphone."""
        return m.state == "joined" and (m.is_host or not self.only_owner or kind == "screen")

    async def follow_only_owner(self, was_only_owner: bool) -> None:
        """``record_only_owner`` changed (a room update) while recording: feeds it now excludes stop being
        written at once, feeds it now includes start."""
        if was_only_owner == self.only_owner or not self.active():
            return
        for m in self.room.joined():
            for kind in list(m.feeds):
                was = m.is_host or not was_only_owner or kind == "screen"
                now = self.recorded(m, kind)
                if was and not now and m.media is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(m.media.record(kind, None), MEDIA_TIMEOUT)
                elif now and not was:
                    await self.record_feed(m, kind)

    async def switch(self, host: Participant, active: bool) -> None:
        """``host.record``. A recording running when the room stopped offering recording (an update)
        may still be stopped."""
        stopping = not active and self.active()
        if not stopping and (not self.available or not self.room.node.has_media):
            host.send(protocol.Error(code="not_available", message="recording is not available in this room"))
        elif active and not self.active():
            await self.start()
        elif not active and self.active():
            if self.auto_record:
                host.send(protocol.Error(code="auto_record",
                                         message="this room records every session: it cannot be stopped"))
                return
            await self.stop()

    async def start_automatically(self) -> None:
        if self.auto_record and self.available and self.room.node.has_media and not self.active():
            await self.start()

    async def start(self) -> None:
        room = self.room
        if room.session_id is None or self.active():
            return
        try:
            rec = await recordings.do_start_recording(room.node.c, room.session_id, only_owner=self.only_owner,
                                                         fence=room.fence)
        except Conflict as exc:
            room.tell_hosts(protocol.Error(code="recording_conflict", message=str(exc)))
            return
        self.recording_id = rec.id
        self._dir = rec.record_dir
        for m in room.joined():
            for kind in list(m.feeds):
                if self.recorded(m, kind):
                    await self.record_feed(m, kind)
        room.broadcast(protocol.Recording(active=True))

    async def feed_announced(self, m: Participant, kind: str) -> None:
        """A feed came up while recording: it is recorded from now on (if its sender is)."""
        if self.active() and self.recorded(m, kind):
            await self.record_feed(m, kind)

    async def record_feed(self, m: Participant, kind: str) -> None:
        if m.media is None or self._dir is None or kind not in m.feeds:
            return
        self._seq += 1
        try:
            await asyncio.wait_for(m.media.record(kind, f"{self._dir}/{m.feeds[kind]}-{kind}-{self._seq}"),
                                   MEDIA_TIMEOUT)
        except Exception as exc:
            log.warning("recording a feed failed: %s", type(exc).__name__)

    async def stop(self) -> None:
        rec_id = self.recording_id
        if rec_id is None:
            return
        for m in self.room.joined():
            if m.media is not None:
                for kind in list(m.feeds):
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(m.media.record(kind, None), MEDIA_TIMEOUT)
        # Raises: still recording, the host may retry.
        await recordings.do_stop_recording(self.room.node.c, rec_id, fence=self.room.fence)
        self.recording_id = None
        self._dir = None
        self.room.broadcast(protocol.Recording(active=False))
