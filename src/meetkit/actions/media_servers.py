"""The pool of Janus servers (``MEETKIT_JANUS_URLS``): where a new meeting goes, draining, and what
``meetkit media list`` shows. The rule is domain/placement.py; the drained set and the meetings on each
Janus are in the database, so every node and the CLI see the same."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ..container import Container
from ..domain.placement import JanusLoad, Limits, place
from ..errors import NotFound
from ..storage import media_servers as store


class Pool(Protocol):
    async def loads(self) -> list[JanusLoad]: ...


def limits(c: Container) -> Limits:
    s = c.settings
    return Limits(streams=s.janus_stress_streams, participants=s.janus_stress_participants,
                  recent_joins=s.janus_stress_joins)


async def place_meeting(c: Container, pool: Pool, room_id: str) -> str | None:
    """The Janus the room's meeting goes to (None: none reachable, or all drained), stored on its
    running session."""
    async with c.sessions() as db:
        drained = await store.drained(db)
    name = place(await pool.loads(), drained, limits(c))
    if name is not None:
        async with c.sessions.begin() as db:
            await store.place_session(db, room_id, name)
    return name


async def pick_edge(c: Container, pool: Pool, exclude: set[str]) -> str | None:
    """Another Janus for a cascading meeting's next receivers (signalling/cascade.py): placed by the
    same rule, the meeting's own Janus left out. Not stored: an edge lives as long as its meeting's
    owner keeps it."""
    async with c.sessions() as db:
        drained = await store.drained(db)
    return place([x for x in await pool.loads() if x.name not in exclude], drained, limits(c))


def _known(c: Container, name: str) -> None:
    names = [e.name for e in c.settings.janus_pool]
    if name not in names:
        raise NotFound(f"no Janus named {name!r} in MEETKIT_JANUS_URLS ({', '.join(names) or 'none'})")


async def drain(c: Container, name: str, draining: bool = True) -> None:
    """``meetkit media drain NAME``: no new meeting goes to it (those on it run on); ``undrain``."""
    _known(c, name)
    async with c.sessions.begin() as db:
        await store.set_draining(db, name, draining, c.clock.now())


@dataclass(frozen=True)
class ServerState:
    name: str
    url: str
    draining: bool
    meetings: int  # running meetings placed on it (the database)
    load: JanusLoad | None  # what it says of itself; None: not reachable


async def list_servers(c: Container, pool: Pool) -> list[ServerState]:
    loads = {x.name: x for x in await pool.loads()}
    async with c.sessions() as db:
        drained = await store.drained(db)
        meetings = await store.running_meetings(db)
    return [ServerState(e.name, e.url, e.name in drained, meetings.get(e.name, 0), loads.get(e.name))
            for e in c.settings.janus_pool]
