"""The rooms of this process (LiveKit's ``RoomManager``): a room exists here while anybody is
connected to it, and hears what the rest of the deployment says about it on the bus.

- ``RoomEnded`` (expired at its hard ``expires_at``, or deleted): the meeting ends for everyone.
- ``RoomUpdated``: the room's row is read again and its approval level, features and recording
  options apply to the running meeting."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from ..actions import meetings
from ..bus import RoomEnded, RoomEvent, RoomUpdated
from ..cluster.media_cards import MediaCards
from ..cluster.ownership import ClaimDeferred, Ownership
from ..container import Container
from ..domain.ratelimit import KeyedBuckets
from ..storage import repositories
from ..storage import tables as t
from . import handover, protocol
from .carry import CardKeeper
from .connection import Connection
from .flow import AddressSockets, FlowLimits
from .links import Links
from .node import MEDIA_TIMEOUT, MediaPort, Node
from .participant import Participant
from .room import Room, room_changed

log = logging.getLogger("meetkit.signalling")


class OwnedElsewhere(Exception):
    """Another node of the deployment owns the room's meeting."""

    def __init__(self, owner: str) -> None:
        super().__init__("another node owns the meeting")
        self.owner = owner


class Rooms:
    def __init__(self, c: Container, media: MediaPort | None = None, ownership: Ownership | None = None) -> None:
        self.node = Node.of(c, media, ownership)
        self.node.ownership.on_lost(self.lost)
        if c.redis is not None and c.settings.media_mode == "external":
            # Cards live while Janus keeps a dead node's sessions (the pool's Janus: MEETKIT_JANUS_RECLAIM_SECONDS).
            self.node.cards = MediaCards(c.redis, max(60, c.settings.janus_reclaim_seconds + 30))
        # The relay of sockets to and from the other nodes (links.py); None in single-process mode.
        self.links: Links | None = None
        self.rooms: dict[str, Room] = {}
        self.addresses = AddressSockets(c.settings.max_sockets_per_address)
        self.flow_limits = FlowLimits.of(c.settings)
        # Sockets one address may open (resumes included), per second and in a burst.
        self.opens = KeyedBuckets(c.settings.socket_opens_rate, c.settings.socket_opens_burst)
        self._unsubscribe = c.bus.subscribe(self.on_room_event)

    @property
    def media(self) -> MediaPort | None:
        return self.node.media

    @media.setter
    def media(self, port: MediaPort | None) -> None:
        self.node.media = port

    async def _room(self, row: t.Room) -> Room:
        """The room's meeting on this node, made once this node owns it (raises :class:`OwnedElsewhere`)."""
        ownership = self.node.ownership
        for _ in range(5):
            room = self.rooms.get(row.id)
            if room is not None:
                return room
            fence = await ownership.claim(row.id, row.owner_epoch)
            if fence is None:
                owner = await ownership.owner_elsewhere(row.id)
                if owner is None:
                    continue  # its owner let it go meanwhile: claim again
                raise OwnedElsewhere(owner)
            room = self.rooms.get(row.id)  # another join may have made it while we claimed
            if room is None:
                room = self.rooms[row.id] = Room.of(self.node, row, self._forget, fence)
                if fence.epoch is not None:  # of a deployment: maybe taken over from another node
                    async with room.lock:
                        await handover.adopt(room)
            return room
        raise RuntimeError("the room's ownership kept changing")

    async def keep_media_cards(self) -> None:
        """Runs for the node's life (with cards): each owned meeting's cards, written when they change."""
        if self.node.cards is not None:
            await CardKeeper(self.node.cards, lambda: self.rooms, time.monotonic).run()

    def _forget(self, room: Room) -> None:
        if not room.participants and self.rooms.get(room.room_id) is room:
            del self.rooms[room.room_id]
            self.node.ownership.release_soon(room.room_id)

    async def join(self, row: t.Room, conn: Connection,
                   hello: protocol.Hello) -> tuple[Room, Participant | None]:
        """``hello`` arrives at the room ``row``: the participant it makes (None if refused)."""
        for _ in range(100):
            room = await self._room(row)
            async with room.lock:
                if self.rooms.get(row.id) is not room:
                    continue  # the room emptied and was forgotten while we waited: take the current one
                try:
                    return room, await room.lobby.arrive(conn, hello)
                except Exception:
                    # Whatever was half done for this connection is undone: no participant left behind.
                    for m in list(room.participants.values()):
                        if m.conn is conn:
                            await room.leave(m, "dropped")
                    room.forget_if_empty()
                    raise
        raise RuntimeError("no room")

    async def end_room(self, room_id: str) -> bool:
        """The room stopped being available while people were in it: the meeting ends for everyone, as if
        the host had ended it. True if it had one. (``RoomEnded`` on the bus does the same.)"""
        room = self.rooms.get(room_id)
        if room is None:
            return False
        await room.end_meeting()
        return True

    async def on_room_event(self, event: RoomEvent) -> None:
        if isinstance(event, RoomEnded):
            await self.end_room(event.room_id)
        elif isinstance(event, RoomUpdated):
            await self.room_updated(event.room_id)

    async def room_updated(self, room_id: str) -> None:
        room = self.rooms.get(room_id)
        if room is None:
            return
        async with self.node.c.sessions() as db:
            row = await repositories.room_by_id(db, room_id)
            theme = await db.get(t.Theme, row.theme_id) if row is not None and row.theme_id else None
        if row is None:
            return
        async with room.lock:
            was_only_owner = room.recording.only_owner
            room.apply_options(row)
            await room.recording.follow_only_owner(was_only_owner)
            if room.captions.on and not room.captions.available:
                await room.captions.stop(None)  # the flag turned off: nobody is transcribed any more
            room.tell_everyone(room_changed(row, theme))  # what the pages show and allow follows
            await room.lobby.approval_changed()

    async def lost(self, room_id: str) -> None:
        """This node no longer owns the room's meeting (its lease ran out, or a write was fenced off):
        its sockets here close with 4503 so the browsers reconnect to the owner, and nothing more is
        written for it from this node."""
        room = self.rooms.get(room_id)
        if room is not None:
            await handover.abandon(room)

    async def adopt_orphans(self) -> int:
        """Of a deployment: meetings the database says are running that no node owns (their node died
        and nobody came back to them). This node takes each over (``handover.adopt``), so whoever is still
        listed leaves when the resume grace runs out, and the session ends. Returns how many it took."""
        taken = 0
        for row in await meetings.rooms_with_running_sessions(self.node.c):
            if row.id in self.rooms or await self.node.ownership.owner_elsewhere(row.id) is not None:
                continue
            try:
                room = await self._room(row)
            except (OwnedElsewhere, ClaimDeferred):
                continue
            taken += 1
            async with room.lock:
                room.forget_if_empty()  # its session ended meanwhile: nothing to adopt
        return taken

    async def watch_orphans(self, period: float) -> None:
        """Until cancelled: ``adopt_orphans`` every ``period`` seconds."""
        while True:
            await self.node.c.clock.sleep(period)
            try:
                if taken := await self.adopt_orphans():
                    log.info("took over %d meeting(s) that no node served", taken)
            except Exception as exc:
                log.warning("meetings no node serves could not be looked for: %s", type(exc).__name__)

    async def media_restarted(self, server: object | None = None) -> None:
        """Janus (``server``; None: any) came back empty: every participant's media session on it is
        gone. The media server has re-created the rooms it knew; meetkit re-opens each participant's
        media and tells browsers to publish and subscribe again."""
        for room in list(self.rooms.values()):
            if server is not None and room.media is not server:
                continue  # on another Janus of the pool, or moved off this one meanwhile
            async with room.lock:
                if server is None or room.media is server:
                    await room.relay.reopen(room.joined())

    def media_lost(self, server: object) -> None:
        """A Janus of the pool is lost: its meetings move to another that is reachable, at once (their
        media is gone either way). With no other, they wait for it to come back (media_restarted)."""
        pool = self.node.pool
        for room in list(self.rooms.values()):
            if any(e.server is server for e in room.cascade.edges.values()):
                self.node.spawn(self._off_edge(room, server), name="media-off-edge")
        if pool is None or not any(s is not server and getattr(s, "connected", False) for s in pool.servers.values()):
            return
        for room in list(self.rooms.values()):
            if room.media is server:
                self.node.spawn(self._move(room, server), name="media-move")

    async def _off_edge(self, room: Room, server: object) -> None:
        """The Janus a cascading meeting's edge was on is lost: who received there receives elsewhere
        (its media opened again: the home part is closed with it, so it publishes again too)."""
        async with room.lock:
            people = [m for m in room.cascade.lost(server) if m.state == "joined"]
            for m in people:
                if m.media is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(m.media.close(), MEDIA_TIMEOUT)
            if people:
                log.info("a meeting's edge Janus is lost: %d receivers move", len(people))
                await room.relay.reopen(people)

    async def _move(self, room: Room, server: object) -> None:
        async with room.lock:
            if room.media is server and room.participants:
                log.info("moving a meeting off a lost Janus")
                await room.relay.move()

    async def close(self) -> None:
        self._unsubscribe()
        for room in list(self.rooms.values()):
            for m in list(room.participants.values()):
                if m.conn is not None:
                    m.conn.close(1012)  # service restart: browsers reconnect
        self.node.cancel_tasks()
