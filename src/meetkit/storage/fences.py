"""Fencing a live meeting's writes (Kleppmann's fencing tokens): the truth about which node owns a room's
meeting is in Redis for speed (cluster/leases.py), but a lease can run out while its holder is paused
or cut off, and that holder does not know it yet. So every write a meeting makes (join, leave, chat,
end, recording) checks, inside its own transaction, that the room's ``owner_epoch`` is still the
writer's; a node that takes a room over raises the epoch first. The raise waits for the old owner's
transactions in flight (their share lock on the room row on PostgreSQL; SQLite has one writer), and
every later write of the old owner is refused with :class:`Fenced`.

Single-process mode has no epochs (``Fence.epoch`` None): nothing is checked."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from . import tables as t


class Fenced(Exception):
    """A newer owner holds the room: this node's write was refused."""

    def __init__(self, room_id: str) -> None:
        super().__init__("the room's meeting is owned by another node now")
        self.room_id = room_id


@dataclass(frozen=True)
class Fence:
    room_id: str
    epoch: int | None  # None: single-process mode, no check


async def check(db: AsyncSession, fence: Fence | None) -> None:
    """Raises :class:`Fenced` when ``fence`` is no longer the room's owner. Call it inside the write's
    transaction, before the write."""
    if fence is None or fence.epoch is None:
        return
    query = select(t.Room.owner_epoch).where(t.Room.id == fence.room_id)
    if db.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(read=True)  # a take-over waits for this transaction
    current = await db.scalar(query)
    if current is not None and current != fence.epoch:
        raise Fenced(fence.room_id)


async def take_over(db: AsyncSession, room_id: str, epoch: int) -> bool:
    """Makes ``epoch`` the room's owner, if it is newer than the one stored. False: an owner with this
    epoch or a newer one already wrote (the lease store lost count; the caller asks for a newer epoch)."""
    result = await db.execute(update(t.Room).where(t.Room.id == room_id, t.Room.owner_epoch < epoch)
                              .values(owner_epoch=epoch).execution_options(synchronize_session=False))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def stored_epoch(db: AsyncSession, room_id: str) -> int:
    return int(await db.scalar(select(t.Room.owner_epoch).where(t.Room.id == room_id)) or 0)
