"""Recording reads and deletes over what storage holds."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from ..container import Container
from ..errors import Forbidden, NotFound
from ..storage import tables as t


async def get_recording(c: Container, application_id: str, recording_id: str) -> t.Recording:
    async with c.sessions() as db:
        rec = await db.get(t.Recording, recording_id)
    if rec is None or rec.application_id != application_id:
        raise NotFound(f"Recording {recording_id} was not found")
    return rec


async def do_delete_recording(c: Container, application_id: str, recording_id: str) -> None:
    async with c.sessions.begin() as db:
        rec = await db.get(t.Recording, recording_id)
        if rec is None or rec.application_id != application_id:
            raise NotFound(f"Recording {recording_id} was not found")
        if rec.status != "uploaded":
            raise Forbidden(
                f"Recording {recording_id} is still {rec.status}: only recordings in 'uploaded' status can be deleted"
            )
        key = rec.storage_key
        await db.delete(rec)
    if key:
        c.objects.delete(key)


async def session_recordings(c: Container, application_id: str, session_id: str) -> Sequence[t.Recording]:
    async with c.sessions() as db:
        session = await db.get(t.Session, session_id)
        if session is None or session.application_id != application_id:
            raise NotFound(f"Failed to find session recordings by id: {session_id}")
        q = select(t.Recording).where(t.Recording.session_id == session_id).order_by(t.Recording.started_at)
        return (await db.scalars(q)).all()
