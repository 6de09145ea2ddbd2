"""Queries shared by the actions. Every read is scoped to one application."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from . import tables as t


async def get_application(db: AsyncSession, application_id: str) -> t.Application | None:
    return await db.get(t.Application, application_id)


async def room_by_id(db: AsyncSession, room_id: str) -> t.Room | None:
    """A room by its public id, whichever application owns it (the primary key is the serial)."""
    return await db.scalar(select(t.Room).where(t.Room.id == room_id))


async def live_room_by_code(db: AsyncSession, code: str) -> t.Room | None:
    """The available room with this meeting code (what a meeting page and a meeting socket open)."""
    return await db.scalar(select(t.Room).where(t.Room.meeting_code == code, t.Room.is_available.is_(True)))


async def get_room(db: AsyncSession, application_id: str, room_id: str) -> t.Room | None:
    row = await room_by_id(db, room_id)
    if row is None or row.application_id != application_id:
        return None
    return row


async def get_theme(db: AsyncSession, application_id: str, theme_id: str) -> t.Theme | None:
    row = await db.get(t.Theme, theme_id)
    if row is None or row.application_id != application_id:
        return None
    return row


async def themes_by_id(db: AsyncSession, theme_ids: set[str]) -> dict[str, t.Theme]:
    if not theme_ids:
        return {}
    rows = await db.scalars(select(t.Theme).where(t.Theme.id.in_(theme_ids)))
    return {r.id: r for r in rows}


async def count_themes(db: AsyncSession, application_id: str) -> int:
    q = select(func.count()).select_from(t.Theme).where(t.Theme.application_id == application_id)
    return int(await db.scalar(q) or 0)


_PART = 100


async def _in_parts(db: AsyncSession, stmt: Select[t.Room]) -> list[t.Room]:
    """All rows of ``stmt``, turned into objects ``_PART`` at a time with the event loop free in
    between: a page of 1,000 rooms in one go holds the loop for tens of milliseconds, and every other
    request of every tenant waits that long (api/fairness.py)."""
    rows: list[t.Room] = []
    result = await db.stream_scalars(stmt.execution_options(yield_per=_PART))
    async for part in result.partitions():
        rows.extend(part)
    return rows


async def page_rooms(
    db: AsyncSession,
    application_id: str,
    *,
    theme_id: str | None,
    start_serial: int | None,
    end_serial: int | None,
    page_size: int,
) -> tuple[Sequence[t.Room], int, bool, bool]:
    """One page of rooms in serial order, the count of all rooms matching, and whether more rooms follow
    and precede the page.

    ``start_serial`` is inclusive and pages forward; ``end_serial`` is exclusive and, alone, pages backward
    (the page ends just before it)."""
    base = [t.Room.application_id == application_id]
    if theme_id is not None:
        base.append(t.Room.theme_id == theme_id)
    total = int(await db.scalar(select(func.count()).select_from(t.Room).where(*base)) or 0)
    cond = list(base)
    if start_serial is not None:
        cond.append(t.Room.serial >= start_serial)
    if end_serial is not None:
        cond.append(t.Room.serial < end_serial)
    backward = end_serial is not None and start_serial is None
    order = t.Room.serial.desc() if backward else t.Room.serial
    rows = await _in_parts(db, select(t.Room).where(*cond).order_by(order).limit(page_size))
    if backward:
        rows.reverse()
    more = earlier = False
    if rows:
        after = [*base, t.Room.serial > rows[-1].serial]
        if end_serial is not None and start_serial is not None:
            after.append(t.Room.serial < end_serial)
        more = (await db.scalar(select(t.Room.serial).where(*after).limit(1))) is not None
        before = [*base, t.Room.serial < rows[0].serial]
        earlier = (await db.scalar(select(t.Room.serial).where(*before).limit(1))) is not None
    return rows, total, more, earlier


async def rooms_using_theme(db: AsyncSession, theme_id: str) -> int:
    return int(await db.scalar(select(func.count()).select_from(t.Room).where(t.Room.theme_id == theme_id)) or 0)
