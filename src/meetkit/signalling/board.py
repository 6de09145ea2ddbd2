"""The whiteboard in a running meeting: one board per session, merged and stored by actions/board.py.

Changes are applied one at a time per room (``Board.lock``), so two pages' copies of an element are
compared against the same stored one; the winners reach every other joined participant. Nothing is
kept in memory: a page that opens the board, reloads, or reconnects to a node that took the meeting
over asks for it (``board.get``) and reads it from the database."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from ..actions import board as actions
from . import protocol
from .participant import Participant

if TYPE_CHECKING:
    from .room import Room


PART_BYTES = 256 * 1024  # a scene goes out in frames of about this size: no one frame fills a send queue


def chunks(elements: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    out: list[list[dict[str, Any]]] = [[]]
    size = 0
    for element in elements:
        n = len(json.dumps(element, separators=(",", ":")))
        if out[-1] and size + n > PART_BYTES:
            out.append([])
            size = 0
        out[-1].append(element)
        size += n
    return out


def scene_parts(elements: list[dict[str, Any]], read_only: bool) -> list[protocol.BoardScene]:
    parts = chunks(elements)
    return [protocol.BoardScene(elements=part, read_only=read_only, part=i, parts=len(parts))
            for i, part in enumerate(parts)]


class Board:
    def __init__(self, room: Room) -> None:
        self.room = room
        self.available = True  # available_features.is_whiteboard_available, live (Room.apply_options)
        self.lock = asyncio.Lock()
        # board.scene frames as last read, and of which session (a room outlives its sessions); None
        # after any change.
        self.scene: list[str] | None = None
        self.scene_session: str | None = None

    def _refused(self, m: Participant) -> bool:
        if not self.available:
            m.send(protocol.Error(code="board_unavailable", message="this room has no whiteboard"))
            return True
        if self.room.session_id is None:
            m.send(protocol.Error(code="not_joined", message="the meeting has no running session"))
            return True
        return False

    async def get(self, m: Participant) -> None:
        if self._refused(m) or self.room.session_id is None:
            return
        async with self.lock:  # (a change landing meanwhile would leave a stale copy cached)
            session_id = self.room.session_id
            if self.scene is None or self.scene_session != session_id:  # once per change, however many ask
                board = await actions.board_of_session(self.room.node.c, session_id)
                self.scene = [x.frame() for x in scene_parts(board.elements, board.read_only)]
                self.scene_session = session_id
            frames = self.scene
        for frame in frames:
            m.send(frame)

    async def update(self, m: Participant, msg: protocol.BoardUpdate) -> None:
        if self._refused(m) or self.room.session_id is None:
            return
        c = self.room.node.c
        async with self.lock:
            # Read inside the lock: a lock from the host lands before any later guest change.
            if not m.is_host and await actions.is_read_only(c, self.room.session_id):
                m.send(protocol.Error(code="board_read_only", message="the host made the whiteboard read-only"))
                return
            merged = await actions.do_merge(c, self.room.session_id, msg.elements, fence=self.room.fence)
            if merged.won:
                self.scene = None
        if merged.refused is not None:
            m.send(protocol.Error(code=merged.refused.code, message=str(merged.refused)))
        if merged.won:
            self.room.broadcast(protocol.BoardUpdated(elements=merged.won, by=m.id), exclude=m)

    async def clear(self, host: Participant) -> None:
        if self._refused(host) or self.room.session_id is None:
            return
        async with self.lock:
            gone = await actions.do_clear(self.room.node.c, self.room.session_id, fence=self.room.fence)
            self.scene = None
        # The host's page too: it learns the versions the server gave the deleted copies. Deleted
        # copies are small (domain/board.py), and sent in parts like a scene.
        for part in chunks(gone):
            self.room.broadcast(protocol.BoardUpdated(elements=part, by=host.id, cleared=True))

    async def set_read_only(self, host: Participant, read_only: bool) -> None:
        if self._refused(host) or self.room.session_id is None:
            return
        async with self.lock:
            await actions.do_set_read_only(self.room.node.c, self.room.session_id, read_only, fence=self.room.fence)
            self.scene = None
        self.room.broadcast(protocol.BoardLocked(read_only=read_only))
