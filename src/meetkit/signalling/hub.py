"""The per-room hub: who is in the meeting, who waits in the lobby, and what each browser is told.

One ``RoomHub`` per room with anybody connected to this process. Membership changes of a room run
one at a time under the room's lock; the durable side (sessions, participants, chat, callbacks) goes
through ``actions.meetings``. Media goes through the ``MediaPort`` (Janus): meetkit adds a
participant's token to the media room only when it admits them and withdraws it when they leave, so a
browser gets media only through meetkit. Frames to browsers are queued per connection so a slow
browser delays nobody else."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import secrets
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from fastapi import WebSocket, WebSocketDisconnect

from ..actions import meetings, recordings
from ..container import Container
from ..errors import Conflict
from ..media.sdp import keep_candidates, parse_networks, sends_video
from ..storage import repositories
from ..storage import tables as t
from . import protocol as p

log = logging.getLogger("meetkit.signalling")

HELLO_TIMEOUT = 10.0
MEDIA_TIMEOUT = 15.0
SEND_QUEUE = 2000


class MediaParticipantPort(Protocol):
    async def publish(self, kind: str, feed: int, display: str, sdp_offer: str) -> str: ...
    async def wait_live(self, kind: str, time_limit: float = 10.0) -> None: ...
    async def unpublish(self, kind: str) -> None: ...
    async def record(self, kind: str, filename: str | None) -> None: ...
    async def subscribe(self, feed: int) -> str: ...
    async def start(self, feed: int, sdp_answer: str) -> None: ...
    async def unsubscribe(self, feed: int) -> None: ...
    async def close(self) -> None: ...


class MediaPort(Protocol):
    async def create_room(self, room: int, *, publishers: int, record: bool = False, rec_dir: str | None = None,
                          description: str = "") -> None: ...
    async def destroy_room(self, room: int) -> None: ...
    async def allow(self, room: int, token: str) -> None: ...
    async def disallow(self, room: int, token: str) -> None: ...
    async def kick(self, room: int, feed: int) -> None: ...
    async def open_participant(self, room: int, token: str) -> MediaParticipantPort: ...


class Connection:
    """One browser socket with its own outgoing queue."""

    def __init__(self, ws: WebSocket) -> None:
        self.ws = ws
        self._queue: asyncio.Queue[str | tuple[int] | None] = asyncio.Queue(maxsize=SEND_QUEUE)
        self._pump = asyncio.create_task(self._run(), name="ws-send")
        self.closed = False

    def send(self, message: p.ServerMessage | str) -> None:
        if self.closed:
            return
        frame = message if isinstance(message, str) else message.frame()
        try:
            self._queue.put_nowait(frame)
        except asyncio.QueueFull:
            log.warning("a browser is not reading its socket; closing it")
            self.close(p.CLOSE_PROTOCOL)

    def close(self, code: int) -> None:
        if self.closed:
            return
        self.closed = True
        if self._queue.full():  # a browser that stopped reading: what it has not read is dropped
            while not self._queue.empty():
                self._queue.get_nowait()
        self._queue.put_nowait((code,))

    async def _run(self) -> None:
        try:
            while True:
                item = await self._queue.get()
                if item is None:
                    return
                if isinstance(item, tuple):
                    with contextlib.suppress(Exception):
                        await self.ws.close(item[0])
                    return
                await self.ws.send_text(item)
        except Exception:  # the socket went away: the receive loop notices and cleans up
            self.closed = True

    async def drain(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.shield(self._pump), 2.0)


@dataclass
class Member:
    id: str
    name: str
    is_host: bool
    resume_token: str
    state: Literal["lobby", "joined", "gone"]
    mic: bool
    camera: bool
    since: datetime
    lobby_reason: Literal["approval", "host_absent"] = "approval"
    hand: bool = False
    joined_at: datetime | None = None
    conn: Connection | None = None
    grace: asyncio.Task[None] | None = None
    media: MediaParticipantPort | None = None
    media_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    feeds: dict[str, int] = field(default_factory=dict)
    pending: dict[str, int] = field(default_factory=dict)  # published, not yet live (not announced)
    video_kinds: set[str] = field(default_factory=set)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def view(self) -> p.ParticipantView:
        return p.ParticipantView(participant_id=self.id, name=self.name, role="host" if self.is_host else "guest",
                                 mic=self.mic, camera=self.camera, hand=self.hand,
                                 feeds=p.Feeds(camera=self.feeds.get("camera"), screen=self.feeds.get("screen")),
                                 joined_at=self.joined_at or self.since)

    def present(self) -> bool:
        return self.state != "gone"

    def send(self, message: p.ServerMessage | str) -> None:
        if self.conn is not None:
            self.conn.send(message)


@dataclass
class RoomHub:
    room_id: str
    application_id: str
    display_name: str
    meeting_code: str
    approval: str
    host_token: str
    members: dict[str, Member] = field(default_factory=dict)
    session_id: str | None = None
    locked: bool = False
    auto_record: bool = False
    record_only_owner: bool = False
    recording_available: bool = True
    recording_id: str | None = None
    record_seq: int = 0
    record_dir: str | None = None
    janus_room: int | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def joined(self) -> list[Member]:
        return [m for m in self.members.values() if m.state == "joined"]

    def waiting(self) -> list[Member]:
        return [m for m in self.members.values() if m.state == "lobby"]

    def broadcast(self, message: p.ServerMessage, exclude: Member | None = None) -> None:
        frame = message.frame()  # serialised once for everybody
        for m in self.joined():
            if m is not exclude:
                m.send(frame)

    def tell_hosts_lobby(self) -> None:
        update = p.LobbyUpdate(waiting=[p.Waiting(participant_id=m.id, name=m.name, since=m.since)
                                        for m in sorted(self.waiting(), key=lambda m: m.since)]).frame()
        for m in self.joined():
            if m.is_host:
                m.send(update)

    def video_senders(self) -> int:
        return sum(len(m.video_kinds) for m in self.members.values() if m.state == "joined")

    def room_view(self) -> p.RoomView:
        return p.RoomView(id=self.room_id, display_name=self.display_name, meeting_code=self.meeting_code,
                          join_approval_level=self.approval)


class Hub:
    """All the rooms of this process."""

    def __init__(self, c: Container, media: MediaPort | None = None) -> None:
        self.c = c
        self.media = media
        self.rooms: dict[str, RoomHub] = {}
        self.candidate_networks = parse_networks(c.settings.media_candidate_networks)
        self._tasks: set[asyncio.Task[Any]] = set()

    # --- connection --------------------------------------------------------------------------------

    async def serve(self, ws: WebSocket, code: str) -> None:
        await ws.accept()
        room = await self._live_room(code)
        if room is None:
            await ws.close(p.CLOSE_NOT_FOUND)
            return
        conn = Connection(ws)
        member: Member | None = None
        rh: RoomHub | None = None
        try:
            try:
                raw = await asyncio.wait_for(ws.receive_text(), HELLO_TIMEOUT)
                hello = p.parse_client(raw)
            except p.ProtocolError as exc:
                conn.send(p.Error(code=exc.code, message=exc.message))
                conn.close(p.CLOSE_PROTOCOL)
                return
            except TimeoutError:
                conn.close(p.CLOSE_PROTOCOL)
                return
            if not isinstance(hello, p.Hello):
                conn.send(p.Error(code="hello_first", message="the first message must be hello"))
                conn.close(p.CLOSE_PROTOCOL)
                return
            rh, member = await self._hello(room, conn, hello)
            if member is None:
                return
            while True:
                raw = await ws.receive_text()
                try:
                    msg = p.parse_client(raw)
                except p.ProtocolError as exc:
                    conn.send(p.Error(code=exc.code, message=exc.message))
                    continue
                if member.conn is not conn or not member.present():
                    break
                try:
                    await self._dispatch(rh, member, msg)
                except Exception as exc:  # one failed request (database, Janus) does not end the meeting
                    log.error("a %s message failed in room %s: %s", msg.type, room.id, type(exc).__name__)
                    member.send(p.Error(code="failed", message="that did not work; try again"))
                if not member.present():
                    break
        except WebSocketDisconnect:
            pass
        except Exception as exc:  # the type only: a traceback could carry names or chat text
            log.error("the meeting socket of room %s failed: %s", room.id, type(exc).__name__)
        finally:
            conn.close(1000)
            await conn.drain()  # what was queued (an error, denied, removed) reaches the browser first
            if rh is not None and member is not None:
                await self._dropped(rh, member, conn)
            elif rh is not None:
                async with rh.lock:
                    self._forget_if_empty(rh)

    def _room_hub(self, room: t.Room) -> RoomHub:
        rh = self.rooms.get(room.id)
        if rh is None:
            options = room.recording_options or {}
            rh = self.rooms[room.id] = RoomHub(
                room_id=room.id, application_id=room.application_id, display_name=room.display_name,
                meeting_code=room.meeting_code, approval=room.join_approval_level, host_token=room.host_token,
                auto_record=bool(options.get("auto_record")),
                record_only_owner=bool(options.get("record_only_owner")),
                recording_available=bool((room.available_features or {}).get("is_recording_available", True)))
        return rh

    async def _live_room(self, code: str) -> t.Room | None:
        async with self.c.sessions() as db:
            return await repositories.live_room_by_code(db, code)

    def _welcome(self, rh: RoomHub, m: Member, resumed: bool, *, entering: bool = False) -> p.Welcome:
        s = self.c.settings
        joined = entering or m.state == "joined"
        return p.Welcome(participant_id=m.id, resume_token=m.resume_token, role="host" if m.is_host else "guest",
                         state="joined" if joined else "lobby", resumed=resumed, room=rh.room_view(),
                         limits=p.Limits(participants=s.max_participants, video_senders=s.max_video_senders),
                         locked=rh.locked)

    async def _hello(self, room: t.Room, conn: Connection, hello: p.Hello) -> tuple[RoomHub, Member | None]:
        for _ in range(100):
            rh = self._room_hub(room)
            async with rh.lock:
                if self.rooms.get(room.id) is not rh:
                    continue  # the hub emptied and was dropped while we waited: take the current one
                try:
                    return rh, await self._hello_locked(rh, conn, hello)
                except Exception:
                    # Whatever was half done for this connection is undone: no member left behind.
                    for m in list(rh.members.values()):
                        if m.conn is conn:
                            await self._leave(rh, m, "dropped")
                    self._forget_if_empty(rh)
                    raise
        raise RuntimeError("no room hub")

    async def _hello_locked(self, rh: RoomHub, conn: Connection, hello: p.Hello) -> Member | None:
        """The room lock is held."""
        if hello.resume is not None:
            old = rh.members.get(hello.resume.participant_id)
            if old is not None and old.state != "gone" and hmac.compare_digest(
                    old.resume_token.encode(), hello.resume.resume_token.encode()):
                if old.grace is not None:
                    old.grace.cancel()
                    old.grace = None
                if old.conn is not None and old.conn is not conn:
                    old.conn.close(p.CLOSE_REPLACED)
                old.conn = conn
                conn.send(self._welcome(rh, old, resumed=True))
                if old.state == "joined":
                    conn.send(await self._admitted(rh, old, video_allowed=bool(old.video_kinds) or
                                                   rh.video_senders() < self.c.settings.max_video_senders))
                else:
                    conn.send(p.Lobby(reason=old.lobby_reason))
                return old
        is_host = hello.host_token is not None and hmac.compare_digest(
            hello.host_token.encode(), rh.host_token.encode())
        m = Member(id=str(uuid.uuid4()), name=hello.name, is_host=is_host, resume_token=secrets.token_urlsafe(24),
                   state="lobby", mic=hello.mic, camera=hello.camera, since=self.c.clock.now(), conn=conn)
        if rh.locked and not is_host:
            conn.send(p.Denied(reason="locked"))
            conn.close(p.CLOSE_DENIED)
            return None
        hosts_in = any(x.is_host for x in rh.joined())
        wait: Literal["approval", "host_absent"] | None = None
        if not is_host and rh.approval == "explicit_approval":
            wait = "approval"
        elif not is_host and rh.approval == "after_owner_only" and not hosts_in:
            wait = "host_absent"
        rh.members[m.id] = m
        if wait is not None:
            m.lobby_reason = wait
            conn.send(self._welcome(rh, m, resumed=False))
            conn.send(p.Lobby(reason=wait))
            rh.tell_hosts_lobby()
            return m
        conn.send(self._welcome(rh, m, resumed=False, entering=True))  # admitted (or denied) follows
        await self._enter(rh, m)
        if m.state == "joined" and is_host:
            for waiting in rh.waiting():
                if waiting.lobby_reason == "host_absent":
                    await self._enter(rh, waiting)
            rh.tell_hosts_lobby()
        return m if m.state != "gone" else None

    async def _admitted(self, rh: RoomHub, m: Member, *, video_allowed: bool) -> p.Admitted:
        chat = await meetings.chat_of_session(self.c, rh.session_id) if rh.session_id else []
        message = None if video_allowed else (
            f"{self.c.settings.max_video_senders} people are already sending video: you join with your camera off.")
        return p.Admitted(session_id=rh.session_id or "", participants=[x.view() for x in rh.joined()],
                          chat=[_chat_view(x) for x in chat], video_allowed=video_allowed,
                          recording=rh.recording_id is not None, message=message)

    async def _enter(self, rh: RoomHub, m: Member) -> None:
        """Admit ``m`` into the meeting (the room lock is held)."""
        if len(rh.joined()) >= self.c.settings.max_participants:
            self._refuse(rh, m, "full")
            return
        try:
            joined = await meetings.do_join(self.c, rh.room_id, m.id, m.name, m.is_host)
        except LookupError:
            self._refuse(rh, m, "ended")
            return
        rh.session_id = joined.session_id
        if joined.session_started:
            rh.recording_id = None
        m.state = "joined"
        m.joined_at = self.c.clock.now()
        media_error: str | None = None
        if self.media is not None:
            try:
                await asyncio.wait_for(self._open_media(rh, m), MEDIA_TIMEOUT)
            except Exception as exc:
                log.warning("media for a participant could not be opened: %s", type(exc).__name__)
                media_error = "the media server is not available"
        else:
            media_error = "this server runs without a media server"
        video_allowed = rh.video_senders() < self.c.settings.max_video_senders
        if not video_allowed:
            m.camera = False
        m.send(await self._admitted(rh, m, video_allowed=video_allowed))
        if media_error is not None:
            m.send(p.MediaError(code="media_unavailable", message=media_error))
        rh.broadcast(p.ParticipantJoined(participant=m.view()), exclude=m)
        if rh.auto_record and rh.recording_available and self.media is not None and rh.recording_id is None:
            await self._start_recording(rh)  # auto_record: from the start of every session

    async def _open_media(self, rh: RoomHub, m: Member) -> None:
        assert self.media is not None
        if rh.janus_room is None:
            rh.janus_room = secrets.randbelow(2**52 - 1) + 1
        # Idempotent: cheap when the room exists, and re-creates it after a media server restart.
        await self.media.create_room(rh.janus_room, publishers=self._janus_publishers(),
                                     description=f"meetkit {rh.room_id}")
        await self.media.allow(rh.janus_room, m.media_token)
        m.media = await self.media.open_participant(rh.janus_room, m.media_token)

    def _janus_publishers(self) -> int:
        # Janus counts every sender, audio-only ones included; meetkit enforces the video limit itself.
        s = self.c.settings
        return s.max_participants + s.max_video_senders

    def _refuse(self, rh: RoomHub, m: Member, reason: Literal["host_denied", "locked", "full", "ended"]) -> None:
        m.send(p.Denied(reason=reason))
        if m.conn is not None:
            m.conn.close(p.CLOSE_DENIED)
        m.state = "gone"
        rh.members.pop(m.id, None)

    async def _dropped(self, rh: RoomHub, m: Member, conn: Connection) -> None:
        """The socket ``conn`` of ``m`` is gone. Decided under the room lock, so an admission or a
        resume running at the same moment is seen."""
        async with rh.lock:
            if m.conn is not conn:
                self._forget_if_empty(rh)
                return  # resumed on another socket meanwhile, or never attached
            m.conn = None
            if m.state == "lobby":
                m.state = "gone"
                rh.members.pop(m.id, None)
                rh.tell_hosts_lobby()
            elif m.state == "joined" and m.grace is None:
                m.grace = asyncio.create_task(self._grace(rh, m), name="resume-grace")
                self._own(m.grace)
            self._forget_if_empty(rh)

    async def _grace(self, rh: RoomHub, m: Member) -> None:
        await asyncio.sleep(self.c.settings.resume_grace)
        async with rh.lock:
            if m.conn is None and m.state == "joined":
                m.grace = None
                await self._leave(rh, m, "dropped")

    def _own(self, task: asyncio.Task[Any]) -> None:
        self._tasks.add(task)

        def done(t_: asyncio.Task[Any]) -> None:
            self._tasks.discard(t_)
            if not t_.cancelled() and t_.exception() is not None:
                log.error("signalling task %s failed", t_.get_name(), exc_info=t_.exception())

        task.add_done_callback(done)

    def _forget_if_empty(self, rh: RoomHub) -> None:
        if not rh.members and self.rooms.get(rh.room_id) is rh:
            del self.rooms[rh.room_id]

    async def _close_media(self, rh: RoomHub, m: Member) -> None:
        """Token withdrawn, feeds and presence kicked, Janus session destroyed: each step on its own,
        so one failing does not keep the others from happening."""
        media, m.media = m.media, None
        feeds = [*m.feeds.values(), *m.pending.values()]
        presence = getattr(media, "presence_id", None)
        if self.media is not None and rh.janus_room is not None:
            steps: list[Awaitable[None]] = [self.media.disallow(rh.janus_room, m.media_token)]
            steps += [self.media.kick(rh.janus_room, feed) for feed in feeds]
            if isinstance(presence, int):
                steps.append(self.media.kick(rh.janus_room, presence))
            for step in steps:
                try:
                    await asyncio.wait_for(step, MEDIA_TIMEOUT)
                except Exception as exc:
                    log.warning("withdrawing a participant's media failed: %s", type(exc).__name__)
        if media is not None:
            try:
                await asyncio.wait_for(media.close(), MEDIA_TIMEOUT)
            except Exception as exc:
                log.warning("closing a participant's media failed: %s", type(exc).__name__)

    async def _leave(self, rh: RoomHub, m: Member, reason: Literal["left", "removed", "dropped", "ended"]) -> None:
        """``m`` leaves the meeting (the room lock is held)."""
        if m.state == "gone":
            return
        was_joined = m.state == "joined"
        m.state = "gone"
        rh.members.pop(m.id, None)
        if m.grace is not None and m.grace is not asyncio.current_task():
            m.grace.cancel()
        m.grace = None
        if was_joined:
            await self._close_media(rh, m)
            m.feeds.clear()
            m.video_kinds.clear()
            ended = await meetings.do_leave(self.c, m.id, reason)
            rh.broadcast(p.ParticipantLeft(participant_id=m.id, reason=reason))
            if ended or not rh.joined():
                await self._session_over(rh)
        else:
            rh.tell_hosts_lobby()
        self._forget_if_empty(rh)

    async def _session_over(self, rh: RoomHub) -> None:
        if rh.recording_id is not None:
            await self._stop_recording(rh)
        rh.session_id = None
        if self.media is not None and rh.janus_room is not None:
            try:
                await self.media.destroy_room(rh.janus_room)
            except Exception as exc:
                log.warning("destroying a media room failed: %s", type(exc).__name__)
        rh.janus_room = None

    # --- messages ----------------------------------------------------------------------------------

    async def _dispatch(self, rh: RoomHub, m: Member, msg: p.AnyClientMessage) -> None:
        if isinstance(msg, p.Ping):
            m.send(p.Pong())
            return
        if isinstance(msg, p.Hello):
            m.send(p.Error(code="bad_message", message="hello was already sent"))
            return
        if isinstance(msg, p.Leave):
            async with rh.lock:
                await self._leave(rh, m, "left")
            if m.conn is not None:
                m.conn.close(1000)
            return
        if m.state != "joined":
            m.send(p.Error(code="not_joined", message="wait until you are admitted"))
            return
        handler = self._handlers.get(type(msg))
        if handler is None:
            m.send(p.Error(code="unknown_type", message="unknown message type"))
            return
        if type(msg).__name__.startswith("Host") and not m.is_host:
            m.send(p.Error(code="forbidden", message="only the host may do that"))
            return
        await handler(self, rh, m, msg)

    async def _chat(self, rh: RoomHub, m: Member, msg: p.ChatSend) -> None:
        if len(msg.text) > self.c.settings.max_chat_length or rh.session_id is None:
            m.send(p.Error(code="bad_message", message=f"chat text is at most {self.c.settings.max_chat_length}"
                                                         " characters"))
            return
        row = await meetings.do_post_chat(self.c, rh.session_id, m.id, m.name, msg.text)
        rh.broadcast(p.ChatMessageOut(id=row.id, participant_id=m.id, name=m.name, text=row.text,
                                      sent_at=row.sent_at))

    async def _hand(self, rh: RoomHub, m: Member, msg: p.Hand) -> None:
        m.hand = msg.raised
        rh.broadcast(p.ParticipantUpdated(participant=m.view()))

    async def _talking(self, rh: RoomHub, m: Member, msg: p.Talking) -> None:
        rh.broadcast(p.TalkingOut(participant_id=m.id, talking=msg.talking), exclude=m)

    async def _media_state(self, rh: RoomHub, m: Member, msg: p.MediaState) -> None:
        m.mic, m.camera = msg.mic, msg.camera
        rh.broadcast(p.ParticipantUpdated(participant=m.view()))

    async def _publish(self, rh: RoomHub, m: Member, msg: p.MediaPublish) -> None:
        if m.media is None:
            m.send(p.MediaError(kind=msg.kind, code="media_unavailable", message="no media for this participant"))
            return
        video = sends_video(msg.sdp)
        async with rh.lock:  # the video limit is checked and reserved atomically
            if video and msg.kind not in m.video_kinds:
                if rh.video_senders() >= self.c.settings.max_video_senders:
                    m.send(p.MediaError(kind=msg.kind, code="video_limit",
                                        message=f"{self.c.settings.max_video_senders} people are already sending "
                                                "video: you can send audio only for now."))
                    return
                m.video_kinds.add(msg.kind)
            elif not video:
                m.video_kinds.discard(msg.kind)
            feed = m.feeds.get(msg.kind) or m.pending.get(msg.kind) or secrets.randbelow(2**52 - 1) + 1
            m.pending[msg.kind] = feed
        async with m.lock:
            try:
                offer = keep_candidates(msg.sdp, self.candidate_networks)
                answer = await asyncio.wait_for(m.media.publish(msg.kind, feed, m.name, offer), MEDIA_TIMEOUT)
            except Exception as exc:
                m.video_kinds.discard(msg.kind)
                m.pending.pop(msg.kind, None)
                log.warning("publish failed: %s", type(exc).__name__)
                m.send(p.MediaError(kind=msg.kind, code="publish_failed", message="the media server refused"))
                return
        m.send(p.MediaAnswerOut(kind=msg.kind, feed=feed, sdp=answer))
        # Others may subscribe only once Janus has the publisher's media: announce the feed then.
        self._own(asyncio.create_task(self._announce(rh, m, msg.kind, feed, video), name="announce-feed"))

    async def _announce(self, rh: RoomHub, m: Member, kind: str, feed: int, video: bool) -> None:
        media = m.media
        if media is None:
            return
        try:
            await media.wait_live(kind, time_limit=MEDIA_TIMEOUT)
        except Exception as exc:
            if m.pending.get(kind) != feed:
                return  # unpublished or published again meanwhile: nothing of this attempt is counted
            m.pending.pop(kind, None)
            log.warning("a published feed did not come up: %s", type(exc).__name__)
            m.video_kinds.discard(kind)
            m.send(p.MediaError(kind="screen" if kind == "screen" else "camera", code="publish_failed",
                                message="your media did not reach the media server"))
            return
        if m.state != "joined" or m.media is not media or m.pending.get(kind) != feed:
            return
        del m.pending[kind]
        m.feeds[kind] = feed
        if kind == "camera":
            m.camera = video
        rh.broadcast(p.ParticipantUpdated(participant=m.view()))
        if rh.recording_id is not None and self._recorded(rh, m):
            async with rh.lock:
                await self._record_feed(rh, m, kind)

    async def _unpublish(self, rh: RoomHub, m: Member, msg: p.MediaUnpublish) -> None:
        m.feeds.pop(msg.kind, None)
        m.pending.pop(msg.kind, None)
        m.video_kinds.discard(msg.kind)
        if m.media is not None:  # also when the feed was not live yet: Janus's publisher goes too
            async with m.lock:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(m.media.unpublish(msg.kind), MEDIA_TIMEOUT)
        if msg.kind == "camera":
            m.camera = False
        rh.broadcast(p.ParticipantUpdated(participant=m.view()))

    def _feed_owner(self, rh: RoomHub, feed: int) -> Member | None:
        for x in rh.joined():
            if feed in x.feeds.values():
                return x
        return None

    async def _subscribe(self, rh: RoomHub, m: Member, msg: p.MediaSubscribe) -> None:
        if m.media is None or self._feed_owner(rh, msg.feed) is None:
            m.send(p.MediaError(feed=msg.feed, code="no_such_feed", message="nobody in this meeting sends that"))
            return
        try:
            offer = await asyncio.wait_for(m.media.subscribe(msg.feed), MEDIA_TIMEOUT)
        except Exception as exc:
            log.warning("subscribe failed: %s", type(exc).__name__)
            m.send(p.MediaError(feed=msg.feed, code="subscribe_failed", message="the media server refused"))
            return
        m.send(p.MediaOffer(feed=msg.feed, sdp=offer))

    async def _answer(self, rh: RoomHub, m: Member, msg: p.MediaAnswer) -> None:
        if m.media is None:
            return
        try:
            answer = keep_candidates(msg.sdp, self.candidate_networks)
            await asyncio.wait_for(m.media.start(msg.feed, answer), MEDIA_TIMEOUT)
        except Exception as exc:
            log.warning("starting a subscription failed: %s", type(exc).__name__)
            m.send(p.MediaError(feed=msg.feed, code="subscribe_failed", message="the media server refused"))

    async def _unsubscribe(self, rh: RoomHub, m: Member, msg: p.MediaUnsubscribe) -> None:
        if m.media is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(m.media.unsubscribe(msg.feed), MEDIA_TIMEOUT)

    # --- host controls -----------------------------------------------------------------------------

    async def _admit(self, rh: RoomHub, m: Member, msg: p.HostAdmit) -> None:
        async with rh.lock:
            target = rh.members.get(msg.participant_id)
            if target is None or target.state != "lobby":
                m.send(p.Error(code="not_waiting", message="that participant is not waiting"))
                return
            await self._enter(rh, target)
            rh.tell_hosts_lobby()

    async def _deny(self, rh: RoomHub, m: Member, msg: p.HostDeny) -> None:
        async with rh.lock:
            target = rh.members.get(msg.participant_id)
            if target is None or target.state != "lobby":
                m.send(p.Error(code="not_waiting", message="that participant is not waiting"))
                return
            self._refuse(rh, target, "host_denied")
            rh.tell_hosts_lobby()

    async def _admit_all(self, rh: RoomHub, m: Member, msg: p.HostAdmitAll) -> None:
        async with rh.lock:
            for target in sorted(rh.waiting(), key=lambda x: x.since):
                await self._enter(rh, target)
            rh.tell_hosts_lobby()

    def _mute(self, rh: RoomHub, host: Member, target: Member) -> None:
        target.mic = False
        target.send(p.Muted(by=host.id))
        rh.broadcast(p.ParticipantUpdated(participant=target.view()))

    async def _host_mute(self, rh: RoomHub, m: Member, msg: p.HostMute) -> None:
        target = rh.members.get(msg.participant_id)
        if target is None or target.state != "joined":
            m.send(p.Error(code="not_found", message="no such participant"))
            return
        self._mute(rh, m, target)

    async def _host_mute_all(self, rh: RoomHub, m: Member, msg: p.HostMuteAll) -> None:
        for target in rh.joined():
            if target is not m:
                self._mute(rh, m, target)

    async def _remove(self, rh: RoomHub, m: Member, msg: p.HostRemove) -> None:
        async with rh.lock:
            target = rh.members.get(msg.participant_id)
            if target is None or target.state == "gone":
                m.send(p.Error(code="not_found", message="no such participant"))
                return
            target.send(p.Removed())
            if target.conn is not None:
                target.conn.close(p.CLOSE_REMOVED)
            await self._leave(rh, target, "removed")

    async def _lock(self, rh: RoomHub, m: Member, msg: p.HostLock) -> None:
        rh.locked = msg.locked
        rh.broadcast(p.Locked(locked=msg.locked))

    async def _end(self, rh: RoomHub, m: Member, msg: p.HostEnd) -> None:
        await self._end_meeting(rh)

    async def end_room(self, room_id: str) -> bool:
        """The room stopped being available (expired at its hard ``expires_at``, or deleted) while people
        were in it: the meeting ends for everyone, as if the host had ended it. True if it had one."""
        rh = self.rooms.get(room_id)
        if rh is None:
            return False
        await self._end_meeting(rh)
        return True

    async def _end_meeting(self, rh: RoomHub) -> None:
        async with rh.lock:
            everyone = list(rh.members.values())
            session_id = rh.session_id
            for x in everyone:
                x.send(p.MeetingEnded() if x.state == "joined" else p.Denied(reason="ended"))
                if x.conn is not None:
                    x.conn.close(p.CLOSE_ENDED if x.state == "joined" else p.CLOSE_DENIED)
                if x.grace is not None:
                    x.grace.cancel()
                if x.state == "joined":
                    await self._close_media(rh, x)
                x.state = "gone"
            rh.members.clear()
            if session_id is not None:
                await meetings.do_end_session(self.c, session_id, reason="ended")
            await self._session_over(rh)
            self._forget_if_empty(rh)

    async def _chat_export(self, rh: RoomHub, m: Member, msg: p.HostChatExport) -> None:
        chat = await meetings.chat_of_session(self.c, rh.session_id, limit=100_000) if rh.session_id else []
        m.send(p.ChatExport(messages=[_chat_view(x) for x in chat]))

    async def _record(self, rh: RoomHub, m: Member, msg: p.HostRecord) -> None:
        async with rh.lock:
            if not rh.recording_available or self.media is None:
                m.send(p.Error(code="not_available", message="recording is not available in this room"))
            elif msg.active and rh.recording_id is None:
                await self._start_recording(rh)
            elif not msg.active and rh.recording_id is not None:
                if rh.auto_record:
                    m.send(p.Error(code="auto_record", message="this room records every session: it cannot be "
                                                               "stopped"))
                    return
                await self._stop_recording(rh)

    # --- recording (the room lock is held) ------------------------------------------------------------

    def _recorded(self, rh: RoomHub, m: Member) -> bool:
        return m.state == "joined" and (m.is_host or not rh.record_only_owner)

    async def _start_recording(self, rh: RoomHub) -> None:
        if rh.session_id is None or rh.recording_id is not None:
            return
        try:
            rec = await recordings.do_start_recording(self.c, rh.session_id, only_owner=rh.record_only_owner)
        except Conflict as exc:
            for m in rh.joined():
                if m.is_host:
                    m.send(p.Error(code="recording_conflict", message=str(exc)))
            return
        rh.recording_id = rec.id
        rh.record_dir = rec.record_dir
        for m in rh.joined():
            if self._recorded(rh, m):
                for kind in list(m.feeds):
                    await self._record_feed(rh, m, kind)
        rh.broadcast(p.Recording(active=True))

    async def _record_feed(self, rh: RoomHub, m: Member, kind: str) -> None:
        if m.media is None or rh.record_dir is None or kind not in m.feeds:
            return
        rh.record_seq += 1
        try:
            await asyncio.wait_for(m.media.record(kind, f"{rh.record_dir}/{m.feeds[kind]}-{kind}-{rh.record_seq}"),
                                   MEDIA_TIMEOUT)
        except Exception as exc:
            log.warning("recording a feed failed: %s", type(exc).__name__)

    async def _stop_recording(self, rh: RoomHub) -> None:
        rec_id = rh.recording_id
        if rec_id is None:
            return
        for m in rh.joined():
            if m.media is not None:
                for kind in list(m.feeds):
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(m.media.record(kind, None), MEDIA_TIMEOUT)
        await recordings.do_stop_recording(self.c, rec_id)  # raises: still recording, the host may retry
        rh.recording_id = None
        rh.record_dir = None
        rh.broadcast(p.Recording(active=False))

    _handlers: dict[type[Any], Callable[[Hub, RoomHub, Member, Any], Awaitable[None]]] = {
        p.ChatSend: _chat, p.Hand: _hand, p.Talking: _talking, p.MediaState: _media_state,
        p.MediaPublish: _publish, p.MediaUnpublish: _unpublish, p.MediaSubscribe: _subscribe,
        p.MediaAnswer: _answer, p.MediaUnsubscribe: _unsubscribe,
        p.HostAdmit: _admit, p.HostDeny: _deny, p.HostAdmitAll: _admit_all, p.HostMute: _host_mute,
        p.HostMuteAll: _host_mute_all, p.HostRemove: _remove, p.HostLock: _lock, p.HostEnd: _end,
        p.HostChatExport: _chat_export, p.HostRecord: _record,
    }

    # --- media server restarts ---------------------------------------------------------------------

    async def media_restarted(self) -> None:
        """Janus came back empty: every participant's media session is gone. The media server has
        re-created the rooms it knew; meetkit re-opens each participant's media and tells browsers to
        publish and subscribe again."""
        for rh in list(self.rooms.values()):
            async with rh.lock:
                people = rh.joined()
                for m in people:
                    m.media = None
                    m.feeds.clear()
                    m.video_kinds.clear()
                if not people:
                    continue
                for m in people:
                    try:
                        await asyncio.wait_for(self._open_media(rh, m), MEDIA_TIMEOUT)
                    except Exception as exc:
                        log.warning("re-opening media failed: %s", type(exc).__name__)
                for m in people:
                    m.send(p.MediaReset())
                    rh.broadcast(p.ParticipantUpdated(participant=m.view()))

    async def close(self) -> None:
        for rh in list(self.rooms.values()):
            for m in list(rh.members.values()):
                if m.conn is not None:
                    m.conn.close(1012)  # service restart: browsers reconnect
        for task in list(self._tasks):
            task.cancel()


def _chat_view(row: t.ChatMessage) -> p.ChatView:
    return p.ChatView(id=row.id, participant_id=row.participant_id, name=row.name, text=row.text, sent_at=row.sent_at)
