"""Room lifecycle actions: expire the rooms whose timer is due, delete expired rooms after retention.

The timer is the room's own ``expiry_due_at`` column, so a restart loses none: whatever is due when a
worker next looks is expired then. Expiring a room and queueing its ``room:expired`` callback happen in
one transaction; once it commits, ``RoomEnded`` on the bus ends a meeting still running in the room."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import exists, select

from ..bus import RoomEnded, publish_on_commit
from ..container import Container
from ..domain.webhooks import RoomExpired
from ..storage import tables as t
from .webhooks import enqueue_event

_BATCH = 100


async def do_expire_due_rooms(c: Container, limit: int = _BATCH) -> list[str]:
    """Expire up to ``limit`` rooms whose timer is due; returns their ids."""
    now = c.clock.now()
    query = (
        select(t.Room)
        .where(t.Room.expiry_due_at <= now, t.Room.is_available.is_(True))
        .order_by(t.Room.expiry_due_at)
        .limit(limit)
    )
    if c.engine.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)  # several meetkit processes share the work
    expired: list[str] = []
    async with c.sessions.begin() as db:
        apps: dict[str, t.Application | None] = {}
        for room in (await db.scalars(query)).all():
            room.is_available = False
            room.expired_at = now
            room.expiry_due_at = None
            if room.application_id not in apps:
                apps[room.application_id] = await db.get(t.Application, room.application_id)
            app = apps[room.application_id]
            if app is not None:
                event = RoomExpired(room_id=room.id, room_type=room.type,
                                    expires_at=room.expires_at, created_at=room.created_at)
                await enqueue_event(db, app, room, "room:expired", event, now=now)
            expired.append(room.id)
            publish_on_commit(db, c.bus, RoomEnded(room.id, "expired"))
    return expired


async def do_delete_retained_rooms(c: Container, limit: int = _BATCH) -> list[str]:
    """Delete rooms expired longer than the retention ago. A room that still has recordings is kept
    (recordings are the customer's data; deleting them deletes nothing else)."""
    cutoff = c.clock.now() - timedelta(seconds=c.settings.expired_room_retention)
    has_recordings = exists().where(t.Recording.room_id == t.Room.id)
    query = (
        select(t.Room)
        .where(t.Room.is_available.is_(False), t.Room.expired_at <= cutoff, ~has_recordings)
        .order_by(t.Room.expired_at)
        .limit(limit)
    )
    deleted: list[str] = []
    async with c.sessions.begin() as db:
        for room in (await db.scalars(query)).all():
            await db.delete(room)
            deleted.append(room.id)
    return deleted
