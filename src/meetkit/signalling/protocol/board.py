"""The whiteboard's messages, both ways (docs/whiteboard.md). An element is a JSON object in
Excalidraw's format: meetkit reads the fields it merges by (domain/board.py) and passes the rest on,
so the models type the messages and leave the elements' drawing fields to Excalidraw."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from .base import ClientMessage, ServerMessage

Elements = Annotated[list[dict[str, Any]], Field(max_length=500)]


class BoardGet(ClientMessage):
    """Asks for the whole board (a page opening it, or coming back): answered ``board.scene``."""

    type: Literal["board.get"]


class BoardUpdate(ClientMessage):
    """Elements the page changed since it last sent: the copies that win reach everyone else."""

    type: Literal["board.update"]
    elements: Annotated[Elements, Field(min_length=1)]


class HostBoardClear(ClientMessage):
    type: Literal["host.board_clear"]


class HostBoardLock(ClientMessage):
    """Read-only for guests (the host still draws)."""

    type: Literal["host.board_lock"]
    read_only: bool


class BoardScene(ServerMessage):
    type: Literal["board.scene"] = "board.scene"
    elements: list[dict[str, Any]]  # deleted ones too: a page merges against them
    read_only: bool
    # A large board comes in several frames: part 0 starts it, parts in all (a page resets on part 0).
    part: int = 0
    parts: int = 1


class BoardUpdated(ServerMessage):
    type: Literal["board.updated"] = "board.updated"
    elements: list[dict[str, Any]]
    by: str  # the participant whose change it was
    cleared: bool | None = None  # the host cleared the board


class BoardLocked(ServerMessage):
    type: Literal["board.locked"] = "board.locked"
    read_only: bool
