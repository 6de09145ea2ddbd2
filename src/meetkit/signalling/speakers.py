"""The room's ear in Janus: one silent presence per media room (the *listener*) that hears what Janus
tells every participant: which feeds publish which streams (``publishers`` events, with their mids,
needed to subscribe to a feed's audio alone) and who talks (``talking`` / ``stopped-talking``, from
the audio levels of the room's ``audiolevel_event``).

Janus sends those events to every participant of the room, presences and publishers alike: with N
people that is N² events for meetkit to read. Only the listener's are acted on; the others are
dropped by the Janus reader unparsed beyond their type (docs/media.md, "Talking")."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..media.videoroom import MediaEvent
from .node import MEDIA_TIMEOUT, MediaParticipantPort
from .participant import Participant

if TYPE_CHECKING:
    from .room import Room

log = logging.getLogger("meetkit.signalling")


class Speakers:
    def __init__(self, room: Room, changed: Callable[[], None]) -> None:
        self.room = room
        self._changed = changed
        self.listener: MediaParticipantPort | None = None
        self._token = secrets.token_urlsafe(24)
        self._streams: dict[int, list[tuple[str, str]]] = {}  # feed → [(type, mid)] as published
        self.published: dict[int, dict[str, Any]] = {}  # feed → Janus's description of it (cascading)
        self.spoke_at: dict[str, float] = {}  # participant id → when last heard talking (clock seconds)
        self.talking: set[str] = set()

    def mids(self, feed: int, type_: str) -> list[str]:
        return [mid for t, mid in self._streams.get(feed, []) if t == type_]

    async def open(self) -> None:
        """Make sure the room has its listener (the media room exists; the room lock is held)."""
        port, janus_room = self.room.media, self.room.janus_room
        if port is None or janus_room is None:
            return
        if self.listener is not None and not getattr(self.listener, "closed", False):
            return
        self.listener = None
        self._streams.clear()
        self.published.clear()
        await port.allow(janus_room, self._token)
        opened: list[MediaParticipantPort] = []

        def on_event(event: MediaEvent) -> None:
            if opened and self.listener is opened[0]:
                self._heard(event)

        listener = await port.open_participant(janus_room, self._token, on_event=on_event)
        opened.append(listener)
        self.listener = listener
        self._learn(getattr(listener, "publishers_at_join", []))

    async def close(self) -> None:
        listener, self.listener = self.listener, None
        self._streams.clear()
        self.published.clear()
        self.spoke_at.clear()
        self.talking.clear()
        if listener is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(listener.close(), MEDIA_TIMEOUT)

    def forget(self, m: Participant) -> None:
        self.spoke_at.pop(m.id, None)
        self.talking.discard(m.id)

    def _heard(self, event: MediaEvent) -> None:
        if event.type in ("closed", "kicked", "room_destroyed"):
            self.listener = None  # opened again with the next participant's media
            return
        if event.type != "event":
            return
        data: Any = (event.data.get("plugindata") or {}).get("data") or {}
        what = data.get("videoroom")
        if what in ("talking", "stopped-talking"):
            self._talked(data.get("id"), what == "talking")
        elif what == "event":
            if isinstance(data.get("publishers"), list):
                self._learn(data["publishers"])
            for gone in (data.get("unpublished"), data.get("leaving")):
                if isinstance(gone, int) and self._streams.pop(gone, None) is not None:
                    self.published.pop(gone, None)
                    self.room.cascade.withdrawn(gone)
                    self._changed()

    def _learn(self, publishers: list[Any]) -> None:
        for p in publishers:
            if not isinstance(p, dict) or not isinstance(p.get("id"), int) or not isinstance(p.get("streams"), list):
                continue
            self._streams[p["id"]] = [(str(s.get("type")), str(s.get("mid"))) for s in p["streams"]
                                      if isinstance(s, dict) and "mid" in s and not s.get("disabled")]
            self.published[p["id"]] = p
            self.room.cascade.published(p["id"])
        self._changed()

    def _talked(self, feed: Any, talking: bool) -> None:
        owner = self.room.feed_owner(feed) if isinstance(feed, int) else None
        if owner is None:
            return
        self.spoke_at[owner.id] = self.room.node.c.clock.now().timestamp()
        if talking:
            self.talking.add(owner.id)
        else:
            self.talking.discard(owner.id)
        self.room.updates.talking(owner, talking)  # coalesced (signalling/coalesce.py)
        if talking:
            self._changed()
