"""The whiteboard's durable side: each session's merged elements and its images, and the export.

Every change is merged in one transaction against what is stored (domain/board.py), so the database
holds the winning copy of every element and a late joiner, a reload or a node taking the meeting over
reads the same board the others see. Images go to the object store first and are listed after, so a
listed file is always there to read."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import func, select, update

from ..container import Container
from ..domain import board as rules
from ..domain.board_png import to_png
from ..domain.board_render import BoardFile as RenderedFile
from ..domain.board_svg import to_svg
from ..errors import BadRequest, NotFound
from ..storage import fences
from ..storage import tables as t
from ..storage.fences import Fence


@dataclass(frozen=True)
class FileRef:
    file_id: str
    mime: str


@dataclass(frozen=True)
class Board:
    elements: list[dict[str, Any]]  # bottom to top, deleted ones included (pages need them to merge)
    read_only: bool
    files: list[FileRef]


@dataclass(frozen=True)
class Merged:
    won: list[dict[str, Any]]  # the copies that won: what the other pages must hear
    refused: rules.BoardError | None  # the first element refused (the others were merged)


async def do_merge(c: Container, session_id: str, raws: Sequence[Mapping[str, Any]], *,
                   fence: Fence | None = None) -> Merged:
    """Stores the copies that win. An element refused (malformed, too large) is left out alone; a
    batch that would take the board past its limits is refused whole (``board_full``)."""
    incoming: list[tuple[str, rules.Stamp, str]] = []
    refused: rules.BoardError | None = None
    for raw in raws:
        try:
            incoming.append(rules.checked(raw))
        except rules.BoardError as exc:
            refused = refused or exc
    if not incoming:
        return Merged([], refused)
    ids = list({element_id for element_id, _, _ in incoming})
    now = c.clock.now()
    async with c.sessions.begin() as db:
        await fences.check(db, fence)
        rows = (await db.execute(
            select(t.BoardElement.element_id, t.BoardElement.version, t.BoardElement.version_nonce)
            .where(t.BoardElement.session_id == session_id,
                   t.BoardElement.element_id.in_(ids)))).all()
        stored = {r.element_id: rules.Stamp(r.version, r.version_nonce) for r in rows}
        won = rules.winners(stored, incoming)
        if won:
            count, size = (await db.execute(
                select(func.count(), func.coalesce(func.sum(func.length(t.BoardElement.body)), 0))
                .where(t.BoardElement.session_id == session_id))).one()
            added = sum(1 for element_id, _, _ in won if element_id not in stored)
            if count + added > rules.MAX_ELEMENTS or size + sum(len(b) for _, _, b in won) > rules.MAX_BOARD_BYTES:
                return Merged([], rules.BoardError("board_full", "the whiteboard is full: clear it or delete some"))
        for element_id, stamp, body in won:
            if element_id in stored:
                await db.execute(update(t.BoardElement).where(
                    t.BoardElement.session_id == session_id, t.BoardElement.element_id == element_id,
                ).values(version=stamp.version, version_nonce=stamp.nonce, body=body, updated_at=now))
            else:
                db.add(t.BoardElement(session_id=session_id, element_id=element_id, version=stamp.version,
                                      version_nonce=stamp.nonce, body=body, updated_at=now))
    return Merged([json.loads(body) for _, _, body in won], refused)


async def board_of_session(c: Container, session_id: str) -> Board:
    async with c.sessions() as db:
        bodies = (await db.scalars(select(t.BoardElement.body).where(t.BoardElement.session_id == session_id))).all()
        files = (await db.execute(select(t.BoardFile.file_id, t.BoardFile.mime)
                                  .where(t.BoardFile.session_id == session_id)
                                  .order_by(t.BoardFile.created_at))).all()
        read_only = await db.scalar(select(t.Session.board_read_only).where(t.Session.id == session_id))
    elements = rules.z_order(json.loads(b) for b in bodies)
    return Board(elements=[dict(e) for e in elements], read_only=bool(read_only),
                 files=[FileRef(f.file_id, f.mime) for f in files])


async def do_clear(c: Container, session_id: str, *, fence: Fence | None = None) -> list[dict[str, Any]]:
    """Deletes every element (new versions, so no page's copy brings one back); returns the deleted copies."""
    now = c.clock.now()
    out: list[dict[str, Any]] = []
    async with c.sessions.begin() as db:
        await fences.check(db, fence)
        rows = (await db.scalars(select(t.BoardElement).where(t.BoardElement.session_id == session_id))).all()
        for row in rows:
            element = json.loads(row.body)
            if element.get("isDeleted") is True:
                continue
            gone = rules.cleared(element, secrets.randbelow(2**31))
            row.version, row.version_nonce = gone["version"], gone["versionNonce"]
            row.body, row.updated_at = json.dumps(gone, separators=(",", ":"), ensure_ascii=False), now
            out.append(gone)
    return out


async def do_set_read_only(c: Container, session_id: str, read_only: bool, *, fence: Fence | None = None) -> None:
    async with c.sessions.begin() as db:
        await fences.check(db, fence)
        await db.execute(update(t.Session).where(t.Session.id == session_id).values(board_read_only=read_only))


async def may_add_image(c: Container, session_id: str, *, is_host: bool) -> bool:
    """Whether the room offers a whiteboard and, for a guest, the host has not made it read-only."""
    async with c.sessions() as db:
        row = (await db.execute(select(t.Room.available_features, t.Session.board_read_only)
                                .join(t.Session, t.Session.room_id == t.Room.id)
                                .where(t.Session.id == session_id))).first()
    if row is None or not bool((row.available_features or {}).get("is_whiteboard_available", True)):
        return False
    return is_host or not row.board_read_only


async def is_read_only(c: Container, session_id: str) -> bool:
    async with c.sessions() as db:
        return bool(await db.scalar(select(t.Session.board_read_only).where(t.Session.id == session_id)))


# --- images ------------------------------------------------------------------------------------------


def _file_key(session_id: str, file_id: str, data: bytes) -> str:
    # Session ids come from meetkit but may hold characters an object key refuses: hashed. The content's
    # digest in the key: two pages racing with different bytes under one id never overwrite each other.
    return (f"board/{hashlib.sha256(session_id.encode()).hexdigest()[:32]}/{file_id}-"
            f"{hashlib.sha256(data).hexdigest()[:16]}")


async def _room_of_files(db: Any, session_id: str) -> tuple[int, int]:
    return tuple((await db.execute(
        select(func.count(), func.coalesce(func.sum(t.BoardFile.size), 0))
        .where(t.BoardFile.session_id == session_id))).one())


async def do_add_file(c: Container, session_id: str, participant_id: str, file_id: str, mime: str,
                      data: bytes) -> bool:
    """Stores an image of the board; False when the board already has this file (it is not replaced:
    Excalidraw's file ids are digests of their content)."""
    if not rules.FILE_ID.match(file_id):
        raise BadRequest("a file id is 1 to 64 letters, digits, _ or -")
    if mime not in rules.FILE_TYPES:
        raise BadRequest("a whiteboard image is PNG, JPEG, GIF or WebP")
    full = BadRequest(f"a whiteboard holds at most {rules.MAX_FILES} images, "
                      f"{rules.MAX_FILE_BYTES_PER_BOARD // (1024 * 1024)} MiB in all")
    async with c.sessions() as db:
        if await db.get(t.BoardFile, (session_id, file_id)) is not None:
            return False
        count, size = await _room_of_files(db, session_id)
    if count >= rules.MAX_FILES or size + len(data) > rules.MAX_FILE_BYTES_PER_BOARD:
        raise full
    key = _file_key(session_id, file_id, data)
    await asyncio.to_thread(c.objects.put, key, data)
    async with c.sessions.begin() as db:
        if await db.get(t.BoardFile, (session_id, file_id)) is not None:
            return False  # the same image from another page at the same moment
        count, size = await _room_of_files(db, session_id)  # again: uploads run side by side
        if count >= rules.MAX_FILES or size + len(data) > rules.MAX_FILE_BYTES_PER_BOARD:
            raise full
        db.add(t.BoardFile(session_id=session_id, file_id=file_id, mime=mime, size=len(data), storage_key=key,
                           participant_id=participant_id, created_at=c.clock.now()))
    return True


async def file_of(c: Container, session_id: str, file_id: str) -> tuple[str, bytes] | None:
    async with c.sessions() as db:
        row = await db.get(t.BoardFile, (session_id, file_id))
    if row is None:
        return None
    data = await asyncio.to_thread(c.objects.get, row.storage_key)
    return None if data is None else (row.mime, data)


# --- the export (REST, after or during the meeting) -------------------------------------------------

ExportFormat = Literal["json", "svg", "png"]


async def export(c: Container, application_id: str, session_id: str, fmt: ExportFormat) -> tuple[str, bytes]:
    """``(content type, body)`` of the session's board: Excalidraw's own file format (``.excalidraw``,
    which excalidraw.com opens, images inlined), or a picture of it."""
    async with c.sessions() as db:
        session = await db.get(t.Session, session_id)
    if session is None or session.application_id != application_id:
        raise NotFound(f"Failed to find a whiteboard for session: {session_id}")
    board = await board_of_session(c, session_id)
    live = [e for e in board.elements if e.get("isDeleted") is not True]
    files: dict[str, RenderedFile] = {}
    for ref in board.files:
        found = await file_of(c, session_id, ref.file_id)
        if found is not None:
            files[ref.file_id] = RenderedFile(mime=found[0], data=found[1])
    if fmt == "svg":
        return "image/svg+xml", (await asyncio.to_thread(to_svg, live, files)).encode()
    if fmt == "png":
        return "image/png", await asyncio.to_thread(to_png, live, files)
    return "application/json", json.dumps(_excalidraw_file(live, files), ensure_ascii=False).encode()


def _excalidraw_file(elements: list[dict[str, Any]], files: Mapping[str, RenderedFile]) -> dict[str, Any]:
    return {
        "type": "excalidraw", "version": 2, "source": "meetkit",
        "elements": elements,
        "appState": {"viewBackgroundColor": "#ffffff"},
        "files": {fid: {"id": fid, "mimeType": f.mime,
                        "dataURL": f"data:{f.mime};base64,{base64.b64encode(f.data).decode()}", "created": 0}
                  for fid, f in files.items()},
    }

