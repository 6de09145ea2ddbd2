"""Each participant's TURN credentials (domain/turn.py), issued only once the participant is in the
meeting: a lobby knocker, or anyone who merely loads a meeting page, gets none (they make no peer
connection, and credentials for them would let a meeting URL farm relays). The first set goes in
``ice.servers`` right after ``admitted`` (or in the ``welcome`` of a joined participant's resume), each
next one in ``ice.servers`` when 75 % of the last one's lifetime has passed, until the participant is gone.

A set sent while the socket is down (the resume grace) is lost; the resume's ``welcome`` carries a
fresh one and starts the count again. The timer sleeps on the injected clock, so tests move time."""

from __future__ import annotations

from ..domain.turn import IceServerSet, TurnCredentials
from . import protocol
from .node import Node
from .participant import Participant


def views(found: IceServerSet) -> list[protocol.IceServerView]:
    return [protocol.IceServerView(urls=list(x.urls), username=x.username, credential=x.credential)
            for x in found.servers]


def welcome_servers(node: Node, m: Participant) -> list[protocol.IceServerView]:
    """The ``welcome``'s set: fresh ones (and their successor scheduled) for a participant already in
    the meeting (a resume); none for someone in the lobby, or about to enter (``admitted_servers``)."""
    found = _issue(node, m) if m.state == "joined" else None
    return views(found) if found is not None else []


def admitted_servers(node: Node, m: Participant) -> protocol.IceServers | None:
    """The first set for ``m``, just admitted (None without TURN), and its successor scheduled."""
    found = _issue(node, m)
    return None if found is None else protocol.IceServers(ice_servers=views(found), expires_at=found.expires_at)


def _issue(node: Node, m: Participant) -> IceServerSet | None:
    turn = node.c.turn
    if turn is None:
        return None
    found = turn.issue(m.id, node.c.clock.now())
    if m.ice_refresh is not None:
        m.ice_refresh.cancel()
    m.ice_refresh = node.spawn(_refresh(node, m, turn), name="ice-refresh")
    return found


async def _refresh(node: Node, m: Participant, turn: TurnCredentials) -> None:
    while m.present():
        await node.c.clock.sleep(turn.refresh_delay())
        if not m.present():
            return
        found = turn.issue(m.id, node.c.clock.now())
        m.send(protocol.IceServers(ice_servers=views(found), expires_at=found.expires_at))
