"""The whiteboard in a running meeting: one board per session, merged and stored by actions/board.py.

Changes are applied one at a time per room (``Board.lock``), so two pages' copies of an element are
compared against the same stored one; the winners reach every other joined participant. Nothing is
kept in memory: a page that opens the board, reloads, or reconnects to a node that took the meeting
over asks for it (``board.get``) and reads it from the database."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from ..actions import board as actions
from ..domain.board import BoardError
from . import protocol
from .participant import Participant

if TYPE_CHECKING:
    from .room import Room


class Board:
    def __init__(self, room: Room) -> None:
        self.room = room
        self.available = True  # available_features.is_whiteboard_available, live (Room.apply_options)
        self.lock = asyncio.Lock()

    def _refused(self, m: Participant) -> bool:
        if not self.available or self.room.session_id is None:
            m.send(protocol.Error(code="board_unavailable", message="this room has no whiteboard"))
            return True
        return False

    async def get(self, m: Participant) -> None:
        if self._refused(m) or self.room.session_id is None:
            return
        board = await actions.board_of_session(self.room.node.c, self.room.session_id)
        m.send(protocol.BoardScene(elements=board.elements, read_only=board.read_only))

    async def update(self, m: Participant, msg: protocol.BoardUpdate) -> None:
        if self._refused(m) or self.room.session_id is None:
            return
        c = self.room.node.c
        async with self.lock:
            # Read inside the lock: a lock from the host lands before any later guest change.
            if not m.is_host and await actions.is_read_only(c, self.room.session_id):
                m.send(protocol.Error(code="board_read_only", message="the host made the whiteboard read-only"))
                return
            try:
                won = await actions.do_merge(c, self.room.session_id, msg.elements, fence=self.room.fence)
            except BoardError as exc:
                m.send(protocol.Error(code=exc.code, message=str(exc)))
                return
        if won:
            self.room.broadcast(protocol.BoardUpdated(elements=won, by=m.id), exclude=m)

    async def clear(self, host: Participant) -> None:
        if self._refused(host) or self.room.session_id is None:
            return
        async with self.lock:
            gone = await actions.do_clear(self.room.node.c, self.room.session_id, fence=self.room.fence)
        # The host's page too: it learns the versions the server gave the deleted copies.
        self.room.broadcast(protocol.BoardUpdated(elements=gone, by=host.id, cleared=True))

    async def set_read_only(self, host: Participant, read_only: bool) -> None:
        if self._refused(host) or self.room.session_id is None:
            return
        async with self.lock:
            await actions.do_set_read_only(self.room.node.c, self.room.session_id, read_only, fence=self.room.fence)
        self.room.broadcast(protocol.BoardLocked(read_only=read_only))
