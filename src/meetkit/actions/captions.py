"""Live captions' durable side: whether a meeting's captions are on, and its transcript (final captions).

Each final caption is a row as soon as it is heard, so a transcript survives a node that stops mid-meeting,
and the REST export reads the same rows during the meeting and after it (docs/captions.md)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select, update

from ..container import Container
from ..domain import webhooks as hooks
from ..domain.links import API_PREFIX
from ..domain.transcript import Cue, clean_text
from ..errors import NotFound
from ..storage import fences
from ..storage import repositories as repo
from ..storage import tables as t
from ..storage.fences import Fence
from .webhooks import enqueue_event


async def do_set_captions(c: Container, session_id: str, on: bool, *, fence: Fence | None = None) -> datetime:
    """Captions on or off in the session; returns when the session started (cue times count from it)."""
    async with c.sessions.begin() as db:
        await fences.check(db, fence)
        await db.execute(update(t.Session).where(t.Session.id == session_id).values(captions_on=on))
        started = await db.scalar(select(t.Session.started_at).where(t.Session.id == session_id))
    return started or c.clock.now()


async def captions_started(c: Container, session_id: str) -> datetime | None:
    """When the session started, if its captions are on (a node taking the meeting over); else None."""
    async with c.sessions() as db:
        row = (await db.execute(select(t.Session.captions_on, t.Session.started_at)
                                .where(t.Session.id == session_id))).first()
    return row.started_at if row is not None and row.captions_on else None


async def do_add_cue(c: Container, session_id: str, cue: Cue, *, fence: Fence | None = None) -> None:
    text = clean_text(cue.text)
    if not text:
        return
    async with c.sessions.begin() as db:
        await fences.check(db, fence)
        db.add(t.TranscriptCue(id=str(uuid.uuid4()), session_id=session_id, participant_id=cue.participant_id,
                               speaker=cue.speaker[:200], start_ms=max(0, round(cue.start * 1000)),
                               end_ms=max(0, round(cue.end * 1000)), text=text, created_at=c.clock.now()))


async def do_transcript_ready(c: Container, session_id: str) -> int:
    """The session's captions are over (its last speaker's last line is stored): the sessions callback
    ``session:transcript:ready`` goes out, if anything was transcribed. Returns the cues counted."""
    now = c.clock.now()
    async with c.sessions.begin() as db:
        session = await db.get(t.Session, session_id)
        count = await db.scalar(select(func.count()).select_from(t.TranscriptCue)
                                .where(t.TranscriptCue.session_id == session_id)) or 0
        if session is None or not count:
            return 0
        room = await repo.room_by_id(db, session.room_id)
        app = await db.get(t.Application, session.application_id)
        if app is not None:
            url = f"{c.settings.public_url}{API_PREFIX}/sessions/{session_id}/transcript"
            await enqueue_event(db, app, room, "session:transcript:ready", hooks.TranscriptReady(
                session_id=session_id, room_id=session.room_id, cues=count, url=url), now=now)
    return int(count)


async def cues_of(c: Container, session_id: str, *, since: datetime | None = None) -> list[Cue]:
    """The session's transcript; with ``since``, timed from then (a recording's start) and only what
    was said after it."""
    offset = 0.0
    async with c.sessions() as db:
        if since is not None:  # (cue times count from the session's start)
            started = await db.scalar(select(t.Session.started_at).where(t.Session.id == session_id))
            offset = (since - started).total_seconds() if started is not None else 0.0
        rows = (await db.scalars(select(t.TranscriptCue).where(t.TranscriptCue.session_id == session_id)
                                 .order_by(t.TranscriptCue.start_ms, t.TranscriptCue.created_at))).all()
    return [Cue(participant_id=r.participant_id, speaker=r.speaker, start=r.start_ms / 1000 - offset,
                end=r.end_ms / 1000 - offset, text=r.text) for r in rows if r.end_ms / 1000 >= offset]


async def recording_cues(c: Container, recording: t.Recording) -> list[Cue]:
    """What was said while ``recording`` ran, timed from its start (for a player beside the MP4)."""
    cues = await cues_of(c, recording.session_id, since=recording.started_at)
    if recording.ended_at is None:
        return cues
    end = (recording.ended_at - recording.started_at).total_seconds()
    return [x for x in cues if x.start <= end]


def transcript_key(mp4_key: str) -> str:
    """Where a recording's WebVTT lies in the object store: beside its MP4."""
    return mp4_key.removesuffix(".mp4") + ".vtt"


async def transcript_for(c: Container, application_id: str, session_id: str) -> list[Cue]:
    """The REST export's transcript: only of the caller's own application's sessions."""
    async with c.sessions() as db:
        session = await db.get(t.Session, session_id)
    if session is None or session.application_id != application_id:
        raise NotFound(f"Failed to find a transcript for session: {session_id}")
    return await cues_of(c, session_id)
