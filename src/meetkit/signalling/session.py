"""One browser's meeting socket, from accept to drop (LiveKit's ``rtcSessionWorker``): look up the
live room, wait for ``hello`` (bounded), then wait for each next message and hand it to the handler.
The session decides nothing about the meeting; on a drop it tells the room, which decides."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Protocol

from fastapi import WebSocketDisconnect

from ..storage import repositories
from . import handlers, protocol
from .connection import Connection, Socket
from .participant import Participant
from .room import Room
from .rooms import Rooms

log = logging.getLogger("meetkit.signalling")

HELLO_TIMEOUT = 10.0


class Accepting(Socket, Protocol):
    async def accept(self) -> None: ...


async def serve(rooms: Rooms, ws: Accepting, code: str,
                not_found: Callable[[], int] = lambda: protocol.CLOSE_NOT_FOUND) -> None:
    """``not_found`` gives the close code for a code that names no live room (the caller counts the miss)."""
    await ws.accept()
    async with rooms.node.c.sessions() as db:
        row = await repositories.live_room_by_code(db, code)
    if row is None:
        await ws.close(not_found())
        return
    conn = Connection(ws)
    m: Participant | None = None
    room: Room | None = None
    try:
        hello = await _hello(ws, conn)
        if hello is None:
            return
        room, m = await rooms.join(row, conn, hello)
        if m is None:
            return
        await _read(room, m, conn)
    except WebSocketDisconnect:
        pass
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


async def _hello(ws: Socket, conn: Connection) -> protocol.Hello | None:
    """The first message, which must be a hello; None (the browser told, the socket closing) if not."""
    try:
        first = protocol.parse_client(await asyncio.wait_for(ws.receive_text(), HELLO_TIMEOUT))
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
    return first


async def _read(room: Room, m: Participant, conn: Connection) -> None:
    while True:
        raw = await conn.ws.receive_text()
        try:
            msg = protocol.parse_client(raw)
        except protocol.ProtocolError as exc:
            conn.send(protocol.Error(code=exc.code, message=exc.message))
            continue
        if m.conn is not conn or not m.present():
            return
        try:
            await handlers.handle(room, m, msg)
        except Exception as exc:  # one failed request (database, Janus) does not end the meeting
            log.error("a %s message failed in room %s: %s", msg.type, room.room_id, type(exc).__name__)
            m.send(protocol.Error(code="failed", message="that did not work; try again"))
        if not m.present():
            return

