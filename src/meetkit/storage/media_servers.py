"""The pool's Janus servers as the database knows them: which are drained, and which meetings run on
each (``sessions.media_server``). Janus itself knows its load (media/pool.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from . import tables as t


async def drained(db: AsyncSession) -> set[str]:
    return set(await db.scalars(select(t.MediaServer.name).where(t.MediaServer.draining.is_(True))))


async def set_draining(db: AsyncSession, name: str, draining: bool, now: datetime) -> None:
    row = await db.get(t.MediaServer, name)
    if row is None:
        db.add(t.MediaServer(name=name, draining=draining, updated_at=now))
    else:
        row.draining, row.updated_at = draining, now


async def place_session(db: AsyncSession, room_id: str, name: str) -> None:
    """The room's running session has its media on ``name`` now."""
    await db.execute(update(t.Session).where(t.Session.room_id == room_id, t.Session.ended_at.is_(None))
                     .values(media_server=name).execution_options(synchronize_session=False))


async def running_meetings(db: AsyncSession) -> dict[str, int]:
    """Running meetings per pooled Janus."""
    rows = await db.execute(select(t.Session.media_server, func.count()).where(
        t.Session.ended_at.is_(None), t.Session.media_server.is_not(None)).group_by(t.Session.media_server))
    return {str(name): int(n) for name, n in rows.all()}
