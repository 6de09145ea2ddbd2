"""Sessions, participants and chat: the durable side of a meeting.

A session runs from the first participant's join to the last one's leave. Each change is one
transaction with its callbacks queued in the outbox and the room's lifecycle timer moved, so the
session events and room expiry stay consistent whatever crashes."""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ..container import Container
from ..domain import lifecycle
from ..domain import lobby as lobby_rules
from ..domain import webhooks as hooks
from ..domain.rooms import RoomType
from ..storage import fences
from ..storage import repositories as repo
from ..storage import tables as t
from ..storage.fences import Fence
from .webhooks import enqueue_event


@dataclass(frozen=True)
class Joined:
    session_id: str
    session_started: bool


def _windows(c: Container) -> lifecycle.Windows:
    return lifecycle.Windows(join_window=timedelta(seconds=c.settings.instant_room_join_window),
                             idle_window=timedelta(seconds=c.settings.room_idle_window))


def _due(c: Container, room: t.Room, *, running: bool, ended_at: datetime | None) -> datetime | None:
    state = lifecycle.RoomState(type=RoomType(room.type), created_at=room.created_at, expires_at=room.expires_at,
                                expire_after_use=room.expire_after_use, ever_joined=True,
                                session_running=running, last_session_ended_at=ended_at)
    return lifecycle.expiry_time(state, _windows(c))


def _participant_event(cls: type[hooks.ParticipantJoined] | type[hooks.ParticipantLeft],
                       p: t.Participant) -> hooks.Event:
    return cls(participant_id=p.id, session_id=p.session_id, room_id=p.room_id, name=p.name,
               type="host" if p.is_host else "guest", is_host=p.is_host)


async def _app(db: AsyncSession, application_id: str) -> t.Application | None:
    return await db.get(t.Application, application_id)


async def running_session(db: AsyncSession, room_id: str) -> t.Session | None:
    return await db.scalar(select(t.Session).where(t.Session.room_id == room_id, t.Session.ended_at.is_(None)))


async def do_join(c: Container, room_id: str, participant_id: str, name: str, is_host: bool,
                  browser_id: str | None = None, *, fence: Fence | None = None,
                  resume_digest: str | None = None) -> Joined:
    """The participant enters the meeting: starts the room's session if none runs. Every write of a
    meeting takes its node's ``fence`` (storage/fences.py) and raises ``Fenced`` once another node owns it."""
    for attempt in range(3):
        try:
            return await _join_once(c, room_id, participant_id, name, is_host, browser_id, fence, resume_digest)
        except IntegrityError:
            # Another process started the session at the same moment: join that one.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


async def _join_once(c: Container, room_id: str, participant_id: str, name: str, is_host: bool,
                     browser_id: str | None, fence: Fence | None, resume_digest: str | None) -> Joined:
    now = c.clock.now()
    async with c.sessions.begin() as db:
        await fences.check(db, fence)
        room = await repo.room_by_id(db, room_id)
        if room is None or not room.is_available:
            raise LookupError("room is not available")
        app = await _app(db, room.application_id)
        session = await running_session(db, room_id)
        started = session is None
        if session is None:
            session = t.Session(id=str(uuid.uuid4()), room_id=room.id, application_id=room.application_id,
                                started_at=now, ended_at=None)
            db.add(session)
            await db.flush()
            room.expiry_due_at = _due(c, room, running=True, ended_at=None)
            if app is not None:
                await enqueue_event(db, app, room, "session:started",
                                    hooks.SessionStarted(session_id=session.id, room_id=room.id, started_at=now),
                                    now=now)
        p = t.Participant(id=participant_id, session_id=session.id, room_id=room.id,
                          application_id=room.application_id, name=name, is_host=is_host, joined_at=now,
                          browser_id=browser_id, resume_digest=resume_digest)
        db.add(p)
        await db.flush()
        if app is not None:
            await enqueue_event(db, app, room, "session:participant:joined",
                                _participant_event(hooks.ParticipantJoined, p), now=now)
        return Joined(session_id=session.id, session_started=started)


async def do_rename(c: Container, participant_id: str, name: str, *, fence: Fence | None = None) -> None:
    """The participant's display name from now on (its stored row: the session's list, callbacks)."""
    async with c.sessions.begin() as db:
        await fences.check(db, fence)
        p = await db.get(t.Participant, participant_id)
        if p is not None and p.left_at is None:
            p.name = name


async def do_leave(c: Container, participant_id: str, reason: str, *, fence: Fence | None = None) -> bool:
    """The participant has left; ends the session when nobody is left. Returns True if it ended it.
    Leaving twice is a no-op."""
    now = c.clock.now()
    async with c.sessions.begin() as db:
        await fences.check(db, fence)
        p = await db.get(t.Participant, participant_id)
        if p is None or p.left_at is not None:
            return False
        p.left_at, p.left_reason = now, reason
        room = await repo.room_by_id(db, p.room_id)
        app = await _app(db, p.application_id)
        if app is not None and room is not None:
            await enqueue_event(db, app, room, "session:participant:left",
                                _participant_event(hooks.ParticipantLeft, p), now=now)
        await db.flush()
        remaining = await db.scalar(select(func.count()).select_from(t.Participant).where(
            t.Participant.session_id == p.session_id, t.Participant.left_at.is_(None)))
        if remaining:
            return False
        await _end_session(c, db, p.session_id, room, app, now)
        return True


async def do_end_session(c: Container, session_id: str, reason: str = "ended", *,
                         fence: Fence | None = None) -> None:
    """The host ended the meeting for all: everyone leaves and the session ends, in one transaction."""
    now = c.clock.now()
    async with c.sessions.begin() as db:
        await fences.check(db, fence)
        session = await db.get(t.Session, session_id)
        if session is None or session.ended_at is not None:
            return
        room = await repo.room_by_id(db, session.room_id)
        app = await _app(db, session.application_id)
        present = (await db.scalars(select(t.Participant).where(
            t.Participant.session_id == session_id, t.Participant.left_at.is_(None)).order_by(t.Participant.joined_at))
        ).all()
        for p in present:
            p.left_at, p.left_reason = now, reason
            if app is not None and room is not None:
                await enqueue_event(db, app, room, "session:participant:left",
                                    _participant_event(hooks.ParticipantLeft, p), now=now)
        await _end_session(c, db, session_id, room, app, now)


async def _end_session(c: Container, db: AsyncSession, session_id: str, room: t.Room | None,
                       app: t.Application | None, now: datetime) -> None:
    session = await db.get(t.Session, session_id)
    if session is None or session.ended_at is not None:
        return
    session.ended_at = now
    if room is not None:
        if room.is_available:
            room.expiry_due_at = _due(c, room, running=False, ended_at=now)
        if app is not None:
            await enqueue_event(db, app, room, "session:ended",
                                hooks.SessionEnded(session_id=session.id, room_id=room.id,
                                                   started_at=session.started_at, ended_at=now), now=now)


Claim = Callable[[str, int], Awaitable[Fence | None]]


async def do_close_orphaned_sessions(c: Container, *, claim: Claim | None = None,
                                     release: Callable[[str], None] | None = None) -> int:
    """At start-up: sessions still running whose meeting nobody serves any more. In single-process
    mode (``claim`` None) that is every one: their participants left when the previous process
    stopped. In a deployment, only the sessions of rooms this node can ``claim`` (no live node owns
    them); each is ended under that claim's fence, then ``release``d. Returns the sessions closed."""
    async with c.sessions() as db:
        rows = (await db.execute(select(t.Session.id, t.Session.room_id, t.Room.owner_epoch)
                                 .join(t.Room, t.Room.id == t.Session.room_id)
                                 .where(t.Session.ended_at.is_(None)))).all()
    closed = 0
    for session_id, room_id, epoch in rows:
        fence = None
        if claim is not None:
            fence = await claim(room_id, epoch)
            if fence is None:
                continue  # a live node owns the meeting
        try:
            await do_end_session(c, session_id, reason="dropped", fence=fence)
            closed += 1
        finally:
            if release is not None and claim is not None:
                release(room_id)
    return closed


async def present_in_running_session(c: Container, room_id: str) -> tuple[str | None, list[t.Participant]]:
    """The room's running session and who is in it by the database (a node taking the meeting over)."""
    async with c.sessions() as db:
        session = await running_session(db, room_id)
        if session is None:
            return None, []
        people = (await db.scalars(select(t.Participant).where(
            t.Participant.session_id == session.id, t.Participant.left_at.is_(None))
            .order_by(t.Participant.joined_at))).all()
    return session.id, list(people)


async def rooms_with_running_sessions(c: Container) -> list[t.Room]:
    async with c.sessions() as db:
        return list((await db.scalars(select(t.Room).join(t.Session, t.Session.room_id == t.Room.id)
                                      .where(t.Session.ended_at.is_(None)))).all())


async def was_removed(c: Container, room_id: str, browser_id: str) -> bool:
    """Whether a host removed a participant of this browser from the room's running session."""
    async with c.sessions() as db:
        found = await db.scalar(
            select(t.Participant.id).join(t.Session, t.Session.id == t.Participant.session_id)
            .where(t.Participant.room_id == room_id, t.Participant.browser_id == browser_id,
                   t.Participant.left_reason == "removed", t.Session.ended_at.is_(None)).limit(1))
    return found is not None


@dataclass(frozen=True)
class ChatLine:
    """A chat message with its sender's role. The role is read from the sender's participants row
    (is_host, fixed at join) rather than stored again with every message."""

    id: int
    participant_id: str
    name: str
    is_host: bool
    text: str
    sent_at: datetime


async def do_post_chat(c: Container, session_id: str, participant_id: str, name: str, text: str,
                       *, is_host: bool, fence: Fence | None = None) -> ChatLine:
    async with c.sessions.begin() as db:
        await fences.check(db, fence)
        msg = t.ChatMessage(session_id=session_id, participant_id=participant_id, name=name, text=text,
                            sent_at=c.clock.now())
        db.add(msg)
        await db.flush()
        return ChatLine(id=msg.id, participant_id=participant_id, name=name, is_host=is_host, text=text,
                        sent_at=msg.sent_at)


async def chat_of_session(c: Container, session_id: str, limit: int = 500) -> list[ChatLine]:
    """The latest ``limit`` messages, oldest first, each with its sender's role."""
    async with c.sessions() as db:
        rows = (await db.execute(
            select(t.ChatMessage, t.Participant.is_host)
            .outerjoin(t.Participant, t.Participant.id == t.ChatMessage.participant_id)
            .where(t.ChatMessage.session_id == session_id)
            .order_by(t.ChatMessage.id.desc()).limit(limit))).all()
    return [ChatLine(id=m.id, participant_id=m.participant_id, name=m.name, is_host=bool(is_host), text=m.text,
                     sent_at=m.sent_at) for m, is_host in reversed(rows)]


@dataclass(frozen=True)
class PageCaller:
    session_id: str
    participant_id: str
    is_host: bool


async def page_caller(c: Container, meeting_code: str, participant_id: str, resume_token: str) -> PageCaller | None:
    """A participant who is in this meeting's running session and holds its resume token: how the
    page's HTTP requests (the whiteboard's images, watch together's uploads) prove who they are."""
    if not resume_token or len(resume_token) > 128 or len(participant_id) > 36:
        return None
    async with c.sessions() as db:
        row = (await db.execute(
            select(t.Participant.session_id, t.Participant.resume_digest, t.Participant.is_host)
            .join(t.Session, t.Session.id == t.Participant.session_id)
            .join(t.Room, t.Room.id == t.Session.room_id)
            .where(t.Participant.id == participant_id, t.Participant.left_at.is_(None),
                   t.Session.ended_at.is_(None), t.Room.meeting_code == meeting_code))).first()
    if row is None or row.resume_digest is None:
        return None
    if not hmac.compare_digest(row.resume_digest, lobby_rules.resume_digest(resume_token)):
        return None
    return PageCaller(session_id=str(row.session_id), participant_id=participant_id, is_host=bool(row.is_host))
