"""Which Janus of a pool a new meeting goes to (``MEETKIT_JANUS_URLS``; docs/scale-out.md "A pool of
Janus servers").

Each Janus's load is read from the Janus itself (the videoroom's ``list``, so every node of a
deployment sees the same figures) plus the joins this node sent it lately: ``list`` lags a join by the
time the browser takes to publish, and a burst of new meetings would otherwise all pick the same one.
A Janus is *stressed* when any figure reaches its limit. A new meeting goes to the least loaded Janus
that is reachable, not drained and not stressed; when every one is stressed, to the least loaded that
is reachable and not drained (a meeting with media on a busy server beats one without); when none is
reachable or every one is drained, nowhere."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


@dataclass(frozen=True)
class JanusEntry:
    name: str
    url: str


def parse_janus_urls(text: str) -> list[JanusEntry]:
    """``name=ws://host:port,name=ws://…`` (a name may be left out: ``janus1``, ``janus2``… by
    position). Raises ValueError with what is wrong."""
    entries: list[JanusEntry] = []
    for i, raw in enumerate(p.strip() for p in text.split(",")):
        if not raw:
            continue
        name, sep, url = raw.partition("=")
        if not sep or "://" in name:
            name, url = f"janus{i + 1}", raw
        name, url = name.strip(), url.strip()
        if not _NAME.match(name):
            raise ValueError(f"MEETKIT_JANUS_URLS: {name!r} is not a name (letters, digits, . _ -)")
        if not url.startswith(("ws://", "wss://")):
            raise ValueError(f"MEETKIT_JANUS_URLS: {name}'s URL must start with ws:// or wss://")
        if any(e.name == name for e in entries):
            raise ValueError(f"MEETKIT_JANUS_URLS: {name} is named twice")
        entries.append(JanusEntry(name, url))
    if not entries:
        raise ValueError("MEETKIT_JANUS_URLS names no Janus")
    return entries


@dataclass(frozen=True)
class Limits:
    """A Janus at or past any of these is stressed."""

    streams: int  # streams it forwards (an estimate, see JanusLoad.of)
    participants: int
    recent_joins: int  # joins this node sent it in the last minute


@dataclass(frozen=True)
class JanusLoad:
    name: str
    rooms: int
    participants: int
    streams: int
    recent_joins: int

    @classmethod
    def of(cls, name: str, participants_per_room: Iterable[int], recent_joins: int) -> JanusLoad:
        """From each room's participant count (``list``'s ``num_participants``, which counts every
        joined publisher handle: one per meetkit participant, and the room's listener). Everyone may
        receive everyone else's audio and video: n·(n-1)·2 forwarded streams, an upper bound (paged
        tiles and audio slots forward fewer), counted the same way on every Janus."""
        counts = [max(0, n - 1) for n in participants_per_room]  # less the room's listener
        return cls(name=name, rooms=len(counts), participants=sum(counts),
                   streams=sum(n * (n - 1) * 2 for n in counts), recent_joins=recent_joins)

    def stressed(self, limits: Limits) -> bool:
        return (self.streams >= limits.streams or self.participants >= limits.participants
                or self.recent_joins >= limits.recent_joins)

    def order(self) -> tuple[int, int, int, str]:
        return (self.streams, self.participants + self.recent_joins, self.rooms, self.name)


def place(loads: Iterable[JanusLoad], drained: set[str], limits: Limits) -> str | None:
    """The Janus a new meeting goes to: ``loads`` are the reachable ones."""
    open_ = sorted((x for x in loads if x.name not in drained), key=JanusLoad.order)
    calm = [x for x in open_ if not x.stressed(limits)]
    best = (calm or open_)[:1]
    return best[0].name if best else None
