"""Watch together's durable side: the session's timeline (``sessions.watch``) and uploaded videos.

The timeline is written on every change, so a node that takes the meeting over carries on the same
video at the same place. An uploaded video goes to the object store; a page's ``<video>`` fetches it
through a signed, expiring link (a media element sends no credentials of its own), with Range
requests for seeking."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from ..container import Container
from ..domain.watch import Timeline
from ..storage import fences
from ..storage import tables as t
from ..storage.fences import Fence

LINK_TTL = 12 * 3600  # a video link outlives any meeting's need for it


async def do_save(c: Container, session_id: str, timeline: Timeline | None, *, fence: Fence | None = None) -> None:
    value: dict[str, Any] | None = timeline.to_json() if timeline is not None else None
    async with c.sessions.begin() as db:
        await fences.check(db, fence)
        await db.execute(update(t.Session).where(t.Session.id == session_id).values(watch=value))


async def timeline_of(c: Container, session_id: str) -> Timeline | None:
    async with c.sessions() as db:
        value = await db.scalar(select(t.Session.watch).where(t.Session.id == session_id))
    try:
        return Timeline.from_json(value) if value else None
    except (KeyError, TypeError, ValueError):
        return None  # written by a release that stored it otherwise: nothing is being watched


def _key(session_id: str, file_id: str) -> str:
    return f"watch/{hashlib.sha256(session_id.encode()).hexdigest()[:32]}/{file_id}"


async def do_add_file(c: Container, session_id: str, mime: str, source: Path, size: int) -> str:
    """Stores an uploaded video (``size`` bytes, spooled at ``source``); returns its file id."""
    file_id = uuid.uuid4().hex
    key = _key(session_id, file_id)
    await asyncio.to_thread(c.objects.put_file, key, source)
    async with c.sessions.begin() as db:
        db.add(t.WatchFile(session_id=session_id, file_id=file_id, mime=mime, size=size, storage_key=key,
                           created_at=c.clock.now()))
    return file_id


async def file_of(c: Container, session_id: str, file_id: str) -> t.WatchFile | None:
    async with c.sessions() as db:
        row = await db.get(t.WatchFile, (session_id, file_id))
    return row


def _signature(c: Container, meeting_code: str, file_id: str, expires: int) -> str:
    return hmac.new(c.secret, f"watch:{meeting_code}:{file_id}:{expires}".encode(), hashlib.sha256).hexdigest()


def file_link(c: Container, meeting_code: str, file_id: str) -> str:
    """The page-relative link a ``<video>`` plays an uploaded file from."""
    expires = int(c.clock.now().timestamp()) + LINK_TTL
    sig = _signature(c, meeting_code, file_id, expires)
    return f"/_meetkit/watch/{meeting_code}/files/{file_id}?expires={expires}&sig={sig}"


def link_valid(c: Container, meeting_code: str, file_id: str, expires: int, sig: str) -> bool:
    if expires < c.clock.now().timestamp():
        return False
    return hmac.compare_digest(_signature(c, meeting_code, file_id, expires), sig)


async def running_file(c: Container, meeting_code: str, file_id: str) -> t.WatchFile | None:
    """The uploaded video ``file_id`` of the meeting's running session, else None."""
    async with c.sessions() as db:
        row = await db.scalar(
            select(t.WatchFile).join(t.Session, t.Session.id == t.WatchFile.session_id)
            .join(t.Room, t.Room.id == t.Session.room_id)
            .where(t.WatchFile.file_id == file_id, t.Session.ended_at.is_(None), t.Room.meeting_code == meeting_code))
    return row
