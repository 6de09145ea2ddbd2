"""Media carried through a failover (issue 12; docs/scale-out.md "Media through a failover").

With an external Janus shared by the nodes (a pool, or ``MEETKIT_JANUS_URL``) started with
``reclaim_session_timeout`` > 0, a meetkit node that dies leaves its participants' Janus sessions
alive, and their browsers' media with them. The owner of a meeting keeps, every half second when they
changed, a card per participant in Redis (cluster/media_cards.py): its Janus session and handles
(media/handover.py), its feeds, what its page shows and its subscriber's m-lines. The node that takes
the meeting over claims the sessions from those cards when it adopts the meeting: the browsers resume
on it with their connections as they were, and nobody is told ``media.reset``.

What is not carried: a participant receiving on a cascade's edge (it gets new media when it resumes)
and the cascade itself (its edges' rooms are destroyed; new edges open as receivers come back). A
card that does not match what Janus has (the session timed out, Janus restarted) costs that
participant fresh media, as without cards."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..cluster.media_cards import MediaCards
from ..media import remote
from ..media.handover import MediaCard
from ..media.participant import MediaParticipant
from ..media.videoroom import MediaServer
from .node import MEDIA_TIMEOUT
from .participant import Participant

if TYPE_CHECKING:
    from .room import Room

log = logging.getLogger("meetkit.signalling")

EVERY_SECONDS = 0.5  # how often an owner looks for changed cards
REWRITE_SECONDS = 5.0  # and writes them again even unchanged (heals a stale owner's late write)


def room_card(room: Room) -> dict[str, Any] | None:
    media = room.media
    if not isinstance(media, MediaServer) or room.janus_room is None:
        return None
    return {"url": media.url, "janus_room": room.janus_room, "edges": sorted(room.cascade.edges)}


def participant_card(room: Room, m: Participant) -> dict[str, Any] | None:
    media = m.media
    if m.state != "joined" or not isinstance(media, MediaParticipant) or media.closed or m.pending:
        return None  # (a publish under way: carried once it is live, or not at all)
    v = room.subscriptions.viewers.get(m.id)
    view: dict[str, Any] = {}
    if v is not None and v.media is media:
        view = {"tiles": {str(f): w for f, w in v.tiles.items()}, "low": v.low_bandwidth, "slots": v.slots,
                "slot_of": v.slot_of, "offer": v.offer_id}
    return {"media": media.card().to_json(), "mic": m.mic, "camera": m.camera,
            "video_kinds": sorted(m.video_kinds), "view": view}


def cards_of(room: Room) -> dict[str, Any]:
    card = room_card(room)
    if card is None:
        return {}
    out: dict[str, Any] = {"room": card}
    for m in room.joined():
        c = participant_card(room, m)
        if c is not None:
            out[m.id] = c
    return out


class CardKeeper:
    """Writes the cards of each owned meeting that changed, and all of them every few seconds (a card
    written late by a node that lost the meeting is overwritten soon)."""

    def __init__(self, cards: MediaCards, rooms: Callable[[], dict[str, Room]], clock_now: Callable[[], float]) -> None:
        self.cards = cards
        self._rooms = rooms
        self._now = clock_now
        self._last: dict[str, tuple[dict[str, str], float]] = {}  # room → (its cards as written, when all were)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(EVERY_SECONDS)
            try:
                await self.once()
            except Exception:
                log.exception("keeping media cards failed")

    async def once(self) -> None:
        rooms = self._rooms()
        for room_id in [r for r in self._last if r not in rooms]:
            del self._last[room_id]  # emptied (its cards dropped then) or taken over (they are the new owner's)
        now = self._now()
        for room_id, room in list(rooms.items()):
            cards = {k: json.dumps(v, sort_keys=True, separators=(",", ":")) for k, v in cards_of(room).items()}
            written, at = self._last.get(room_id, ({}, 0.0))
            every = now - at >= REWRITE_SECONDS
            changed = cards if every else {k: v for k, v in cards.items() if written.get(k) != v}
            gone = [k for k in written if k not in cards]
            if not changed and not gone:
                continue
            if await self.cards.save(room_id, changed, gone):
                self._last[room_id] = (cards, now if every else at)


async def carry_on(room: Room, cards: MediaCards) -> int:
    """``room`` was just adopted from a dead owner (handover.adopt; the room lock is held): claim its
    participants' Janus sessions from their cards. Returns how many were carried on."""
    found = await cards.load(room.room_id)
    card = found.get("room")
    server = _server_at(room, card.get("url") if isinstance(card, dict) else None)
    if server is None or not server.connected or not isinstance(card, dict):
        return 0
    try:
        janus_room = int(card["janus_room"])
    except (KeyError, TypeError, ValueError):
        return 0
    room.media, room.janus_room = server, janus_room
    try:
        await asyncio.wait_for(room.relay.ready_media_room(), MEDIA_TIMEOUT)
    except Exception as exc:
        log.warning("taking a meeting's media room over failed: %s", type(exc).__name__)
        room.media, room.janus_room = None, None
        return 0
    carried = 0
    for m in room.joined():
        if m.media is None and isinstance(found.get(m.id), dict) and await _claim(room, server, m, found[m.id]):
            carried += 1
    await _drop_edges(room, server, [str(n) for n in card.get("edges") or []])
    log.info("a meeting taken over: %d of %d participants' media carried on", carried, len(room.joined()))
    return carried


async def _claim(room: Room, server: MediaServer, m: Participant, card: dict[str, Any]) -> bool:
    media_card = MediaCard.of(card.get("media"))
    if media_card is None or room.janus_room is None:
        return False
    m.media_token = secrets.token_urlsafe(24)  # the old one is not kept anywhere: a new one, allowed now
    try:
        await asyncio.wait_for(server.allow(room.janus_room, m.media_token), MEDIA_TIMEOUT)
        await asyncio.wait_for(room.relay.claim_media(m, media_card), MEDIA_TIMEOUT)
    except Exception as exc:
        log.info("a participant's media could not be carried on (%s): it starts afresh", type(exc).__name__)
        return False
    m.feeds = {kind: feed for kind, (_, feed) in media_card.publishers.items()}
    m.mic, m.camera = bool(card.get("mic")), bool(card.get("camera"))
    m.video_kinds = {k for k in card.get("video_kinds") or [] if k in m.feeds}
    room.subscriptions.restore(m, card.get("view") or {})
    return True


async def _drop_edges(room: Room, home: MediaServer, names: list[str]) -> None:
    """The dead owner's cascade: its edges' rooms go, and the home stops forwarding to them (a new edge
    there would otherwise find its forwarders taken)."""
    pool, janus_room = room.node.pool, room.janus_room
    if not names or pool is None or janus_room is None:
        return
    feeds = [f for m in room.joined() for f in m.feeds.values()]
    for name in names:
        for feed in feeds:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(remote.unpublish_remotely(home, janus_room, feed, f"edge-{name}"), MEDIA_TIMEOUT)
        edge = pool.servers.get(name)
        if isinstance(edge, MediaServer) and edge.connected:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(edge.destroy_room(janus_room), MEDIA_TIMEOUT)


def _server_at(room: Room, url: Any) -> MediaServer | None:
    if not isinstance(url, str):
        return None
    node = room.node
    candidates = list(node.pool.servers.values()) if node.pool is not None else [node.media]
    return next((s for s in candidates if isinstance(s, MediaServer) and s.url == url), None)
