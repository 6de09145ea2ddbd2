"""Recordings: reads and deletes, and the lifecycle a meeting drives (started → stopped → uploaded)."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ..container import Container
from ..domain import webhooks as hooks
from ..domain.links import API_PREFIX, download_signature
from ..domain.recordings import DELETABLE, RecordingStatus, move
from ..errors import Conflict, Forbidden, NotFound
from ..storage import fences
from ..storage import repositories as repo
from ..storage import tables as t
from ..storage.fences import Fence
from .captions import transcript_key
from .meetings import Claim
from .webhooks import Doorbell, enqueue_event


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
        if rec.status not in DELETABLE:
            raise Forbidden(
                f"Recording {recording_id} is still {rec.status}: only recordings in 'uploaded' status can be deleted"
            )
        key, folder = rec.storage_key, rec.record_dir
        await db.delete(rec)
    if key:
        await asyncio.to_thread(c.objects.delete, key)
        await asyncio.to_thread(c.objects.delete, transcript_key(key))  # live captions' WebVTT beside it
    if folder:
        await asyncio.to_thread(shutil.rmtree, folder, True)  # tracks of a recording that failed to compose


async def session_recordings(c: Container, application_id: str, session_id: str) -> Sequence[t.Recording]:
    async with c.sessions() as db:
        session = await db.get(t.Session, session_id)
        if session is None or session.application_id != application_id:
            raise NotFound(f"Failed to find session recordings by id: {session_id}")
        q = select(t.Recording).where(t.Recording.session_id == session_id).order_by(t.Recording.started_at)
        return (await db.scalars(q)).all()


# -- the recording lifecycle: started → stopped → uploaded ------------------------------------------


def recording_dir(c: Container, recording_id: str) -> Path:
    """Where Janus writes a recording's tracks (.mjr) until it is composed."""
    return (c.settings.data_dir / "recordings" / recording_id).resolve()


def download_link(c: Container, recording_id: str) -> str:
    """A signed, expiring download link on the public URL (for callbacks: no request to build it from)."""
    expires = int(c.clock.now().timestamp()) + c.settings.download_link_ttl
    sig = download_signature(c.secret, recording_id, expires)
    query = urlencode({"expires": expires, "signature": sig})
    return f"{c.settings.public_url}{API_PREFIX}/recordings/{recording_id}/download?{query}"


async def _room_and_app(db: AsyncSession, room_id: str, application_id: str) -> tuple[t.Room | None,
                                                                                      t.Application | None]:
    room = await repo.room_by_id(db, room_id)
    return room, await db.get(t.Application, application_id)


async def do_start_recording(c: Container, session_id: str, *, only_owner: bool,
                             fence: Fence | None = None) -> t.Recording:
    """A recording of the running session starts; raises Conflict if one is already running."""
    now = c.clock.now()
    rec_id = str(uuid.uuid4())
    try:
        async with c.sessions.begin() as db:
            await fences.check(db, fence)
            session = await db.get(t.Session, session_id)
            if session is None or session.ended_at is not None:
                raise Conflict("the session is not running")
            rec = t.Recording(id=rec_id, application_id=session.application_id, session_id=session_id,
                              room_id=session.room_id, status=RecordingStatus.STARTED, started_at=now,
                              ended_at=None, storage_key=None, created_at=now, record_dir=str(recording_dir(c, rec_id)),
                              only_owner=only_owner, attempts=0)
            db.add(rec)
            await db.flush()
            room, app = await _room_and_app(db, session.room_id, session.application_id)
            if app is not None:
                await enqueue_event(db, app, room, "recording:started",
                                    hooks.RecordingStarted(recording_id=rec_id, session_id=session_id), now=now)
    except IntegrityError:
        raise Conflict("a recording of this session is already running") from None
    recording_dir(c, rec_id).mkdir(parents=True, exist_ok=True)
    return rec


async def do_stop_recording(c: Container, recording_id: str, *, ended_at: datetime | None = None,
                            fence: Fence | None = None) -> bool:
    """The recording stops and its composition is due now. Returns False if it was not running."""
    now = c.clock.now()
    async with c.sessions.begin() as db:
        await fences.check(db, fence)
        rec = await db.get(t.Recording, recording_id)
        if rec is None or rec.status != RecordingStatus.STARTED:
            return False
        rec.status = move(rec.status, RecordingStatus.STOPPED)
        rec.ended_at = max(rec.started_at, ended_at or now)
        rec.next_attempt_at = now
        room, app = await _room_and_app(db, rec.room_id, rec.application_id)
        if app is not None:
            await enqueue_event(db, app, room, "recording:ended", hooks.RecordingEnded(
                recording_id=rec.id, session_id=rec.session_id, started_at=rec.started_at, ended_at=rec.ended_at,
                duration=duration_seconds(rec)), now=now)
    recordings_doorbell.ring()
    return True


def duration_seconds(rec: t.Recording) -> int:
    if rec.ended_at is None:
        return 0
    return max(0, round((rec.ended_at - rec.started_at).total_seconds()))


async def do_recording_uploaded(c: Container, recording_id: str, storage_key: str) -> None:
    now = c.clock.now()
    async with c.sessions.begin() as db:
        rec = await db.get(t.Recording, recording_id)
        if rec is None or rec.status != RecordingStatus.STOPPED:
            return
        rec.status = move(rec.status, RecordingStatus.UPLOADED)
        rec.storage_key = storage_key
        rec.next_attempt_at = None
        rec.last_error = None
        room, app = await _room_and_app(db, rec.room_id, rec.application_id)
        if app is not None:
            assert rec.ended_at is not None
            await enqueue_event(db, app, room, "recording:uploaded", hooks.RecordingUploaded(
                recording_id=rec.id, session_id=rec.session_id, room_id=rec.room_id, started_at=rec.started_at,
                ended_at=rec.ended_at, duration=duration_seconds(rec), url=download_link(c, rec.id)), now=now)


async def do_stop_orphaned_recordings(c: Container, *, claim: Claim | None = None,
                                      release: Callable[[str], None] | None = None) -> int:
    """At start-up: recordings still 'started' whose meeting nobody serves any more (in a deployment,
    only those of rooms this node can ``claim``, as ``meetings.do_close_orphaned_sessions``). They stop
    at the last moment their tracks were written, and are composed from what was captured."""
    async with c.sessions() as db:
        started = (select(t.Recording, t.Room.owner_epoch).join(t.Room, t.Room.id == t.Recording.room_id)
                   .where(t.Recording.status == RecordingStatus.STARTED))
        rows = (await db.execute(started)).all()
    stopped = 0
    for rec, epoch in rows:
        fence = None
        if claim is not None:
            fence = await claim(rec.room_id, epoch)
            if fence is None:
                continue
        try:
            await do_stop_recording(c, rec.id, ended_at=_last_written(rec), fence=fence)
            stopped += 1
        finally:
            if release is not None and claim is not None:
                release(rec.room_id)
    return stopped


def _last_written(rec: t.Recording) -> datetime:
    # Without any track written, nothing was captured: the recording ends where it started (not at
    # this restart, which could be days later).
    last = rec.started_at
    folder = Path(rec.record_dir) if rec.record_dir else None
    if folder is not None and folder.is_dir():
        mtimes = [f.stat().st_mtime for f in folder.glob("*.mjr")]
        if mtimes:
            last = datetime.fromtimestamp(max(mtimes), UTC)
    return last


recordings_doorbell = Doorbell()
