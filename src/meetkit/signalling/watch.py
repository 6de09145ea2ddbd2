"""Watch together in a running meeting (docs/watch.md): one shared video at a time.

The host shares it; whoever has control (the sharer, or whom control was handed to) plays, pauses and
seeks; every change is stamped with the server's clock, stored, and sent to everyone, and each page
keeps its own player on that timeline. It ends when the sharer stops it or leaves the meeting."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..actions import watch as actions
from ..domain.watch import Source, Timeline, WatchError, source_of_url
from . import protocol
from .participant import Participant

if TYPE_CHECKING:
    from .room import Room


class Watch:
    def __init__(self, room: Room) -> None:
        self.room = room
        self.timeline: Timeline | None = None

    def _ms(self) -> float:
        return self.room.node.c.clock.now().timestamp() * 1000

    def view(self, by: str | None = None) -> protocol.WatchState:
        tl = self.timeline
        assert tl is not None
        url = tl.source.url
        if tl.source.kind == "file" and tl.source.file_id is not None:
            url = actions.file_link(self.room.node.c, self.room.meeting_code, tl.source.file_id)
        return protocol.WatchState(
            source=protocol.WatchSource(kind=tl.source.kind, url=url, video_id=tl.source.video_id),
            sharer=tl.sharer, controller=tl.controller, playing=tl.playing, position=tl.position,
            at=tl.at.timestamp() * 1000, server_time=self._ms(), by=by)

    async def _store(self, timeline: Timeline | None) -> None:
        if self.room.session_id is not None:
            await actions.do_save(self.room.node.c, self.room.session_id, timeline, fence=self.room.fence)
        self.timeline = timeline

    async def start(self, host: Participant, msg: protocol.WatchStart) -> None:
        c = self.room.node.c
        try:
            if msg.file_id is not None:
                if self.room.session_id is None or await actions.file_of(c, self.room.session_id, msg.file_id) is None:
                    raise WatchError("not_found", "no such uploaded video in this meeting")
                source = Source(kind="file", file_id=msg.file_id)
            elif msg.url is not None:
                source = source_of_url(msg.url)
            else:
                raise WatchError("bad_message", "watch.start needs a url or a file_id")
        except WatchError as exc:
            host.send(protocol.Error(code=exc.code, message=str(exc)))
            return
        # Paused at the start: whoever has control presses play once the pages have loaded it.
        await self._store(Timeline(source=source, sharer=host.id, controller=host.id, playing=False, position=0.0,
                                   at=c.clock.now()))
        self.room.broadcast(self.view(by=host.id))

    async def control(self, m: Participant, msg: protocol.WatchControl) -> None:
        tl = self.timeline
        if tl is None or tl.controller != m.id:
            m.send(protocol.Error(code="not_in_control", message="only who has control plays, pauses and seeks"))
            return
        await self._store(tl.controlled(self.room.node.c.clock.now(), playing=msg.playing, position=msg.position))
        self.room.broadcast(self.view(by=m.id))

    async def hand_over(self, m: Participant, msg: protocol.WatchHandOver) -> None:
        tl = self.timeline
        if tl is None or not (m.is_host or tl.controller == m.id):
            m.send(protocol.Error(code="not_in_control", message="only a host or who has control hands it over"))
            return
        target = self.room.participants.get(msg.participant_id)
        if target is None or target.state != "joined":
            m.send(protocol.Error(code="not_found", message="no such participant"))
            return
        await self._store(tl.handed_to(target.id))
        self.room.broadcast(self.view(by=m.id))

    async def stop(self, m: Participant) -> None:
        tl = self.timeline
        if tl is None:
            return
        if not (m.is_host or m.id in (tl.sharer, tl.controller)):
            m.send(protocol.Error(code="not_in_control", message="only the sharer or a host stops it"))
            return
        await self._end("stopped")

    def get(self, m: Participant) -> None:
        m.send(self.view() if self.timeline is not None else protocol.WatchEnded(reason="none"))

    async def left(self, m: Participant) -> None:
        """``m`` left the meeting: the video ends with its sharer; control goes back to the sharer."""
        tl = self.timeline
        if tl is None:
            return
        if tl.sharer == m.id:
            await self._end("sharer_left")
        elif tl.controller == m.id:
            await self._store(tl.handed_to(tl.sharer))
            self.room.broadcast(self.view())

    async def _end(self, reason: str) -> None:
        await self._store(None)
        self.room.broadcast(protocol.WatchEnded(reason="stopped" if reason == "stopped" else "sharer_left"))

    async def restore(self) -> None:
        """A node taking the meeting over: the timeline as the old owner stored it."""
        if self.room.session_id is not None:
            self.timeline = await actions.timeline_of(self.room.node.c, self.room.session_id)

    def forget(self) -> None:
        self.timeline = None
