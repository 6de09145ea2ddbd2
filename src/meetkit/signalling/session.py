"""One browser's meeting socket, from accept to drop (LiveKit's ``rtcSessionWorker``): look up the
live room, wait for ``hello`` (bounded), then wait for each next message and hand it to the handler.
The session decides nothing about the meeting; on a drop it tells the room, which decides."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Protocol

from fastapi import WebSocketDisconnect
from redis.exceptions import RedisError

from ..cluster.ownership import ClaimDeferred
from ..domain.addresses import client_key
from ..storage import repositories
from ..storage.fences import Fenced
from . import flow, handlers, protocol
from .connection import Connection, Socket, receive_frame
from .participant import Participant
from .room import Room
from .rooms import OwnedElsewhere, Rooms

log = logging.getLogger("meetkit.signalling")

HELLO_TIMEOUT = 10.0


class Accepting(Socket, Protocol):
    async def accept(self) -> None: ...


async def serve(rooms: Rooms, ws: Accepting, code: str,
                not_found: Callable[[], int] = lambda: protocol.CLOSE_NOT_FOUND) -> None:
    """One meeting socket, counted against its client address's cap (``max_sockets_per_address``).
    ``not_found`` gives the close code for a code that names no live room (the caller counts the miss)."""
    client = getattr(ws, "client", None)
    address = client_key(str(getattr(client, "host", None) or "unknown"))  # IPv6 by its /64
    # Sockets open at once, and how fast new ones open: a closed socket (4429 included) must not be a
    # fresh start that can be taken again and again.
    if not rooms.addresses.claim(address):
        await ws.accept()  # a close code needs an accepted socket (before it, only HTTP 403 exists)
        await ws.close(protocol.CLOSE_TOO_MANY_SOCKETS)
        return
    if not rooms.opens.take(address, time.monotonic()):
        rooms.addresses.release(address)
        await ws.accept()
        await ws.close(protocol.CLOSE_TOO_MANY_SOCKETS)
        return
    try:
        await _meeting(rooms, ws, code, not_found)
    finally:
        rooms.addresses.release(address)


async def serve_relayed(rooms: Rooms, ws: Accepting, code: str) -> None:
    """A socket relayed from another node (signalling/links.py), served as a local one; it is not
    relayed again: if this node no longer owns the meeting, it closes 4503 and the browser reconnects."""
    await _meeting(rooms, ws, code, lambda: protocol.CLOSE_NOT_FOUND, relayed=True)


async def _meeting(rooms: Rooms, ws: Accepting, code: str, not_found: Callable[[], int], *,
                   relayed: bool = False) -> None:
    await ws.accept()
    async with rooms.node.c.sessions() as db:
        row = await repositories.live_room_by_code(db, code)
    if row is None:
        await ws.close(not_found())
        return
    if rooms.links is not None and not relayed:
        try:
            owner = await rooms.node.ownership.owner_elsewhere(row.id)
            alive = owner is not None and await rooms.links.alive(owner)
        except Exception as exc:  # Redis is away: the browser comes back in a moment
            log.warning("the owner of a meeting could not be looked up: %s", type(exc).__name__)
            await ws.close(protocol.CLOSE_MOVED)
            return
        if owner is not None:
            if alive:
                await rooms.links.relay(ws, owner, code)
            else:  # its owner died and its lease has not run out yet: the browser comes back soon
                await ws.close(protocol.CLOSE_MOVED)
            return
    s = rooms.node.c.settings
    conn = Connection(ws, max_frames=s.socket_send_queue_frames, max_bytes=s.socket_send_queue_bytes)
    m: Participant | None = None
    room: Room | None = None
    try:
        said = await _hello(ws, conn)
        if said is None:
            return
        hello, raw_hello = said
        try:
            room, m = await rooms.join(row, conn, hello)
        except OwnedElsewhere as elsewhere:
            # Another node claimed the meeting a moment before us: the socket goes there, hello first.
            if rooms.links is None or relayed:
                raise
            await rooms.links.relay(ws, elsewhere.owner, code, first=raw_hello)
            return
        if m is None:
            return
        if m.flow is None:  # the participant's, not the socket's: a resume does not refill the buckets
            m.flow = flow.SocketFlow(rooms.flow_limits)
        await _read(room, m, conn, m.flow)
    except WebSocketDisconnect:
        pass
    except (OwnedElsewhere, ClaimDeferred):
        conn.close(protocol.CLOSE_MOVED)
    except RedisError as exc:  # the deployment's Redis is away: the browser comes back in a moment
        log.warning("a meeting socket could not be placed: %s", type(exc).__name__)
        conn.close(protocol.CLOSE_MOVED)
    except Fenced:
        conn.close(protocol.CLOSE_MOVED)
        await rooms.lost(row.id)
    except Exception as exc:  # the type only: a traceback could carry names or chat text
        log.error("the meeting socket of room %s failed: %s", row.id, type(exc).__name__)
    finally:
        conn.close(1000)
        await conn.drain()  # what was queued (an error, denied, removed) reaches the browser first
        if room is not None and m is not None:
            await room.dropped(m, conn)
        elif room is not None:
            async with room.lock:
                room.forget_if_empty()


async def _hello(ws: Socket, conn: Connection) -> tuple[protocol.Hello, str] | None:
    """The first message, which must be a hello, and its text; None (the browser told, the socket
    closing) if not."""
    try:
        raw = await asyncio.wait_for(receive_frame(ws), HELLO_TIMEOUT)
        if raw is None:
            raise protocol.ProtocolError("bad_message", "frames are JSON text, not binary")
        first = protocol.parse_client(raw)
    except protocol.ProtocolError as exc:
        conn.send(protocol.Error(code=exc.code, message=exc.message))
        conn.close(protocol.CLOSE_PROTOCOL)
        return None
    except TimeoutError:
        conn.close(protocol.CLOSE_PROTOCOL)
        return None
    if not isinstance(first, protocol.Hello):
        conn.send(protocol.Error(code="hello_first", message="the first message must be hello"))
        conn.close(protocol.CLOSE_PROTOCOL)
        return None
    return first, raw


async def _read(room: Room, m: Participant, conn: Connection, limits: flow.SocketFlow) -> None:
    while True:
        # Frames already buffered are read without a pause: yield once per frame, so one socket's
        # burst does not hold up the other sockets (nor this socket's own send pump).
        await asyncio.sleep(0)
        raw = await receive_frame(conn.ws)
        try:
            if raw is None:
                raise protocol.ProtocolError("bad_message", "frames are JSON text, not binary")
            msg: protocol.AnyClientMessage | None = protocol.parse_client(raw)
            refused = None
        except protocol.ProtocolError as exc:
            msg, refused = None, protocol.Error(code=exc.code, message=exc.message)
        verdict = _within_limits(conn, limits, None if msg is None else msg.type)
        if verdict == "abusive":
            # Closed at once (not behind its unread errors), and out of the meeting: no resume grace.
            conn.abort(protocol.CLOSE_RATE_LIMITED)
            async with room.lock:
                await room.leave(m, "dropped")
            return
        if verdict == "limited":
            continue
        if msg is None:
            conn.send(refused or protocol.Error(code="bad_message", message="not a message"))
            continue
        if m.conn is not conn or not m.present():
            return
        try:
            await handlers.handle(room, m, msg)
        except Fenced:
            raise  # another node owns the meeting now: this socket goes to it
        except Exception as exc:  # one failed request (database, Janus) does not end the meeting
            log.error("a %s message failed in room %s: %s", msg.type, room.room_id, type(exc).__name__)
            m.send(protocol.Error(code="failed", message="that did not work; try again"))
        if not m.present():
            return


def _within_limits(conn: Connection, limits: flow.SocketFlow, message_type: str | None) -> flow.Verdict:
    """Whether this frame may be acted on. Over its class's limit it is answered ``rate_limited``;
    past the strikes allowed (``abusive``) the caller closes the sender's socket alone, 4429."""
    kind = flow.class_of(message_type)
    if kind is None:
        return "ok"
    verdict = limits.check(kind)
    if verdict == "abusive":
        log.warning("a meeting socket sent too many rate-limited frames; closing it")
    elif verdict == "limited":
        conn.send(limits.refusal(kind))
    return verdict
