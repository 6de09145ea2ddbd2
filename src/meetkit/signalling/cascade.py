"""A meeting's receivers spread over several Janus of a pool (``MEETKIT_JANUS_CASCADE_RECEIVERS``;
docs/scale-out.md "Cascading").

The meeting's *home* Janus (where it was placed) carries its first receivers. Once it carries as many
as the setting says, the next receiver's subscriber goes to an *edge*: another Janus of the pool
(chosen like a placement, least loaded first) where the meeting has a room of the same id, whose
publishers are the home's feeds sent on as remote publishers (media/remote.py), one hop, a star from
the home. Everybody publishes on the home: a receiver on an edge has two Janus sessions, its publishers
and a presence on the home, its subscriber and a presence on the edge (:class:`SplitMedia`), so the
feeds, the talking detection and recordings are the home's alone and nothing else changes.

A feed is forwarded to every edge when the room's listener learns it (its streams, signalling/speakers.py)
and when an edge is opened; withdrawn when the listener hears it unpublished. A viewer on an edge
subscribes only to feeds already forwarded there (:meth:`Cascade.carries`), so no subscription races
the forwarding; it is told to look again once a feed arrives. The edge's mids differ from the home's
(they are the streams' mindex): the viewer's Subscriber translates them (``to_janus``/``from_janus``)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..actions import media_servers
from ..media import remote
from ..media.codes import ID_EXISTS
from ..media.janus import JanusError
from ..media.videoroom import MediaServer
from .node import MEDIA_TIMEOUT, MediaParticipantPort
from .participant import Participant

if TYPE_CHECKING:
    from .room import Room

log = logging.getLogger("meetkit.signalling")


@dataclass(eq=False)
class Edge:
    name: str
    server: MediaServer
    receivers: set[str] = field(default_factory=set)  # participant ids whose subscriber is here
    streams: dict[int, list[Any]] = field(default_factory=dict)  # feed → the edge's streams of it (forwarded)
    mids: dict[int, dict[str, str]] = field(default_factory=dict)  # feed → home mid → edge mid

    def to_edge(self, feed: int, mid: str) -> str:
        return self.mids.get(feed, {}).get(mid, mid)

    def to_home(self, feed: int, mid: str) -> str:
        return next((home for home, there in self.mids.get(feed, {}).items() if there == mid), mid)


class Cascade:
    def __init__(self, room: Room) -> None:
        self.room = room
        self.home_receivers: set[str] = set()
        self.edges: dict[str, Edge] = {}
        self.edge_of: dict[str, Edge] = {}  # participant id → the edge it receives on
        self._lock = asyncio.Lock()  # forwarding changes, one at a time

    def _home(self) -> MediaServer | None:
        media = self.room.media
        return media if isinstance(media, MediaServer) else None

    def _cap(self) -> int:
        return self.room.node.c.settings.janus_cascade_receivers if self.room.node.pool is not None else 0

    # --- where a receiver goes (the room lock is held) -----------------------------------------------

    async def place(self, m: Participant) -> Edge | None:
        """Where ``m`` receives: None for the home Janus, or an edge (made now if need be)."""
        self.release(m)
        cap, home = self._cap(), self._home()
        if cap == 0 or home is None or len(self.home_receivers) < cap:
            self.home_receivers.add(m.id)
            return None
        edge = next((e for e in self.edges.values() if len(e.receivers) < cap and e.server.connected), None)
        if edge is None:
            try:
                edge = await asyncio.wait_for(self._open_edge(home), MEDIA_TIMEOUT)
            except Exception as exc:
                log.warning("no edge Janus for a meeting's receiver: %s", type(exc).__name__)
        if edge is None:  # no other Janus can take it: the home carries more than the cap
            self.home_receivers.add(m.id)
            return None
        edge.receivers.add(m.id)
        self.edge_of[m.id] = edge
        return edge

    def release(self, m: Participant) -> Edge | None:
        """``m`` receives nowhere now; returns the edge it received on."""
        self.home_receivers.discard(m.id)
        edge = self.edge_of.pop(m.id, None)
        if edge is not None:
            edge.receivers.discard(m.id)
        return edge

    def carries(self, m: Participant, feed: int) -> bool:
        """Whether ``m`` can subscribe to ``feed`` where it receives."""
        edge = self.edge_of.get(m.id)
        return edge is None or feed in edge.streams

    async def _open_edge(self, home: MediaServer) -> Edge | None:
        pool, room = self.room.node.pool, self.room
        if pool is None or room.janus_room is None:
            return None
        taken = {name for name, s in pool.servers.items() if s is home} | set(self.edges)
        name = await media_servers.pick_edge(room.node.c, pool, exclude=taken)
        if name is None:
            return None
        server = pool.servers[name]
        s = room.node.c.settings
        await server.create_room(room.janus_room, publishers=s.max_participants + s.max_video_senders + 1,
                                 description=f"meetkit {room.room_id}")
        edge = self.edges[name] = Edge(name, server)
        log.info("a meeting cascades onto another Janus (%s)", name)
        async with self._lock:
            for feed in list(room.subscriptions.speakers.published):
                await self._forward(home, edge, feed)
        return edge

    # --- forwarding the home's feeds --------------------------------------------------------------------

    def published(self, feed: int) -> None:
        """The listener learned ``feed``'s streams (new, or changed)."""
        if self.edges:
            self.room.node.spawn(self._forward_all(feed), name="cascade-forward")

    def withdrawn(self, feed: int) -> None:
        if any(feed in e.streams for e in self.edges.values()):
            self.room.node.spawn(self._withdraw_all(feed), name="cascade-withdraw")

    async def _forward_all(self, feed: int) -> None:
        home = self._home()
        async with self._lock:
            for edge in list(self.edges.values()):
                if home is not None and self.edges.get(edge.name) is edge:
                    await self._forward(home, edge, feed)

    async def _withdraw_all(self, feed: int) -> None:
        home = self._home()
        async with self._lock:
            for edge in list(self.edges.values()):
                await self._withdraw(home, edge, feed)
        self.room.subscriptions.changed()

    async def _forward(self, home: MediaServer, edge: Edge, feed: int) -> None:
        """Make ``feed`` a remote publisher on ``edge`` (or again, with its new streams). Failures are
        logged: the edge's viewers then go without this feed (``carries``)."""
        room, described = self.room, self.room.subscriptions.speakers.published.get(feed)
        if described is None or room.janus_room is None:
            return
        published = described.get("streams") or []
        streams = remote.edge_streams(published)
        if edge.streams.get(feed) == streams or not streams:
            return
        try:
            if feed in edge.streams:
                await self._withdraw(home, edge, feed)
            ports = await asyncio.wait_for(self._add(edge, room.janus_room, feed, described, streams), MEDIA_TIMEOUT)
            await asyncio.wait_for(remote.publish_remotely(home, room.janus_room, feed, _remote_id(edge),
                                                           remote.media_host(edge.server), ports), MEDIA_TIMEOUT)
        except Exception as exc:
            log.warning("forwarding a feed to %s failed: %s %s", edge.name, type(exc).__name__,
                        getattr(exc, "reason", ""))
            return
        edge.streams[feed], edge.mids[feed] = streams, remote.edge_mids(published)
        room.subscriptions.changed()

    async def _add(self, edge: Edge, janus_room: int, feed: int, described: dict[str, Any],
                   streams: list[Any]) -> tuple[int, int]:
        # A remote publisher removed a moment ago may still hold its id while its thread winds down.
        for attempt in range(10):
            try:
                display = str(described.get("display") or "")
                return await remote.add_remote_publisher(edge.server, janus_room, feed, display, streams)
            except JanusError as exc:
                if exc.code != ID_EXISTS or attempt == 9:
                    raise
                await asyncio.sleep(0.1)
        raise AssertionError("unreachable")

    async def _withdraw(self, home: MediaServer | None, edge: Edge, feed: int) -> None:
        if edge.streams.pop(feed, None) is None:
            return
        edge.mids.pop(feed, None)
        janus_room = self.room.janus_room
        if janus_room is None:
            return
        steps = [remote.remove_remote_publisher(edge.server, janus_room, feed)]
        if home is not None:
            steps.insert(0, remote.unpublish_remotely(home, janus_room, feed, _remote_id(edge)))
        for step in steps:
            try:
                await asyncio.wait_for(step, MEDIA_TIMEOUT)
            except Exception as exc:
                log.warning("withdrawing a forwarded feed failed: %s", type(exc).__name__)

    # --- edges going away --------------------------------------------------------------------------------

    def lost(self, server: object) -> list[Participant]:
        """A Janus was lost: the edge on it is gone; returns who received there (to be reopened)."""
        edge = next((e for e in self.edges.values() if e.server is server), None)
        if edge is None:
            return []
        self._forget(edge)
        people = [m for pid in edge.receivers if (m := self.room.participants.get(pid)) is not None]
        for m in people:
            self.edge_of.pop(m.id, None)
        edge.receivers.clear()
        return people

    def _forget(self, edge: Edge) -> None:
        self.edges.pop(edge.name, None)
        if self.room.janus_room is not None:
            edge.server.forget_room(self.room.janus_room)  # not re-created there when it comes back

    def forget(self) -> None:
        """This node no longer serves the meeting: its edges are the next owner's to drop."""
        self.edges, self.edge_of = {}, {}
        self.home_receivers.clear()

    async def close(self, janus_room: int | None) -> None:
        """The meeting's media room goes (emptied, or moved): its edges' rooms go with it (and their
        remote publishers); the home's forwarders go with the home's room."""
        edges, self.edges = list(self.edges.values()), {}
        self.home_receivers.clear()
        self.edge_of.clear()
        for edge in edges:
            if janus_room is None:
                continue
            try:
                await asyncio.wait_for(edge.server.destroy_room(janus_room), MEDIA_TIMEOUT)
            except Exception as exc:
                log.warning("destroying an edge's media room failed: %s", type(exc).__name__)


def _remote_id(edge: Edge) -> str:
    return f"edge-{edge.name}"


class SplitMedia:
    """The media of a participant who receives on an edge: publishers on the home Janus (``home``),
    the subscriber on the edge (``edge``). Both are :class:`~meetkit.media.participant.MediaParticipant`."""

    def __init__(self, home: MediaParticipantPort, edge: MediaParticipantPort) -> None:
        self.home, self.edge = home, edge

    @property
    def closed(self) -> bool:
        return bool(getattr(self.home, "closed", False) or getattr(self.edge, "closed", False))

    @property
    def presence_id(self) -> Any:
        return getattr(self.home, "presence_id", None)

    @property
    def subscriber(self) -> Any:
        return self.edge.subscriber

    async def publish(self, kind: str, feed: int, display: str, sdp_offer: str, *, trickle: bool = False) -> str:
        return await self.home.publish(kind, feed, display, sdp_offer, trickle=trickle)

    async def renegotiate(self, kind: str, sdp_offer: str, *, trickle: bool = False) -> str:
        return await self.home.renegotiate(kind, sdp_offer, trickle=trickle)

    async def trickle(self, target: Any, candidate: dict[str, Any] | None) -> None:
        await (self.edge if target == "subscriber" else self.home).trickle(target, candidate)

    async def wait_live(self, kind: str, time_limit: float = 10.0) -> None:
        await self.home.wait_live(kind, time_limit)

    async def unpublish(self, kind: str) -> None:
        await self.home.unpublish(kind)

    async def record(self, kind: str, filename: str | None) -> None:
        await self.home.record(kind, filename)

    async def close(self) -> None:
        try:
            await self.edge.close()
        finally:
            await self.home.close()

    def let_go(self) -> None:
        for part in (self.edge, self.home):
            let_go = getattr(part, "let_go", None)
            if let_go is not None:
                let_go()
