"""One room with anybody connected to this process: its participants, its lock, what everyone is told,
and the session that runs while somebody is in the meeting.

Membership changes of a room run one at a time under ``lock``; the durable side (sessions,
participants, chat, callbacks) goes through ``actions.meetings``. The room's lobby, media relay,
publishing, what each participant receives and the recording switch are its parts (``lobby``,
``relay``, ``publishing``, ``subscriptions``, ``recording``)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from ..actions import meetings
from ..domain import lobby as rules
from ..domain.links import API_PREFIX
from ..storage import tables as t
from ..storage.fences import Fence
from . import ice, protocol
from .board import Board
from .captions import Captions
from .cascade import Cascade
from .coalesce import LobbyFeed, ParticipantUpdates
from .connection import Connection
from .lobby import Lobby
from .node import MediaPort, Node
from .participant import Participant
from .publishing import Publishing
from .recording import Recording
from .relay import Relay
from .subscriptions import Subscriptions
from .watch import Watch

log = logging.getLogger("meetkit.signalling")

LeaveReason = Literal["left", "removed", "dropped", "ended"]


@dataclass(eq=False)
class Room:
    node: Node
    room_id: str
    application_id: str
    display_name: str
    meeting_code: str
    approval: str
    host_token: str
    on_empty: Callable[[Room], None]
    participants: dict[str, Participant] = field(default_factory=dict)
    session_id: str | None = None
    locked: bool = False
    chat_available: bool = True  # available_features.is_chat_available, live (apply_options)
    janus_room: int | None = None
    media: MediaPort | None = None  # the media server janus_room is on (node.place: one of a pool)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # This node's ownership of the meeting, checked by every write (storage/fences.py).
    fence: Fence | None = None

    def __post_init__(self) -> None:
        self.lobby = Lobby(self)
        self.relay = Relay(self)
        self.cascade = Cascade(self)
        self.publishing = Publishing(self)
        self.subscriptions = Subscriptions(self)
        self.recording = Recording(self)
        self.board = Board(self)
        self.watch = Watch(self)
        self.captions = Captions(self)
        s = self.node.c.settings
        self.updates = ParticipantUpdates(self, s.state_update_interval)
        self.lobby_feed = LobbyFeed(self, s.lobby_update_interval)

    @classmethod
    def of(cls, node: Node, row: t.Room, on_empty: Callable[[Room], None], fence: Fence | None = None) -> Room:
        room = cls(node=node, room_id=row.id, application_id=row.application_id, display_name=row.display_name,
                   meeting_code=row.meeting_code, approval=row.join_approval_level, host_token=row.host_token,
                   on_empty=on_empty, fence=fence)
        room.apply_options(row)
        return room

    def apply_options(self, row: t.Room) -> None:
        """The room's stored options, read again (at creation, and when the room was updated)."""
        self.approval = row.join_approval_level
        self.display_name = row.display_name
        self.host_token = row.host_token  # rotated: the old host link stops working here too
        options = row.recording_options or {}
        self.recording.auto_record = bool(options.get("auto_record"))
        self.recording.only_owner = bool(options.get("record_only_owner"))
        features = row.available_features or {}
        self.recording.available = bool(features.get("is_recording_available", True))
        self.chat_available = bool(features.get("is_chat_available", True))
        self.board.available = bool(features.get("is_whiteboard_available", True))
        self.captions.available = bool(features.get("is_captions_available", False))

    # --- who is here -------------------------------------------------------------------------------

    def joined(self) -> list[Participant]:
        return [x for x in self.participants.values() if x.state == "joined"]

    def waiting(self) -> list[Participant]:
        return sorted((x for x in self.participants.values() if x.state == "lobby"), key=lambda x: x.since)

    def hosts_present(self) -> bool:
        return any(x.is_host for x in self.joined())

    def video_senders(self) -> int:
        return sum(rules.video_places(video_kinds=x.video_kinds, camera_on=x.camera) for x in self.joined())

    def feed_owner(self, feed: int) -> Participant | None:
        for x in self.joined():
            if feed in x.feeds.values():
                return x
        return None

    # --- telling people ----------------------------------------------------------------------------

    def broadcast(self, message: protocol.ServerMessage, exclude: Participant | None = None) -> None:
        frame = message.frame()  # serialised once for everybody
        for x in self.joined():
            if x is not exclude:
                x.send(frame)

    def tell_everyone(self, message: protocol.ServerMessage) -> None:
        """Everyone present: in the meeting and in the lobby."""
        frame = message.frame()
        for x in self.participants.values():
            if x.present():
                x.send(frame)

    def tell_hosts(self, message: protocol.ServerMessage) -> None:
        frame = message.frame()
        for x in self.joined():
            if x.is_host:
                x.send(frame)

    def tell_hosts_lobby(self) -> None:
        """The lobby changed: hosts get a coalesced delta (signalling/coalesce.py)."""
        self.lobby_feed.changed()

    def room_view(self) -> protocol.RoomView:
        return protocol.RoomView(id=self.room_id, display_name=self.display_name, meeting_code=self.meeting_code,
                                 join_approval_level=self.approval)

    def welcome(self, m: Participant, resumed: bool, *, entering: bool = False) -> protocol.Welcome:
        """The ``welcome`` for ``m``; TURN credentials only if ``m`` is already joined (a resume; see ice.py)."""
        s = self.node.c.settings
        joined = entering or m.state == "joined"
        return protocol.Welcome(
            participant_id=m.id, resume_token=m.resume_token, role="host" if m.is_host else "guest",
            state="joined" if joined else "lobby", resumed=resumed, room=self.room_view(),
            limits=protocol.Limits(participants=s.max_participants, video_senders=s.max_video_senders),
            locked=self.locked, browser_id=m.browser_token, ice_servers=ice.welcome_servers(self.node, m))

    async def admitted(self, m: Participant, *, video_allowed: bool) -> protocol.Admitted:
        c = self.node.c
        chat = await meetings.chat_of_session(c, self.session_id) if self.session_id and self.chat_available else []
        message = None if video_allowed else (
            f"{c.settings.max_video_senders} people are already sending video: you join with your camera off.")
        return protocol.Admitted(session_id=self.session_id or "", participants=[x.view() for x in self.joined()],
                                 chat=[chat_view(x) for x in chat], video_allowed=video_allowed,
                                 recording=self.recording.active(), message=message)

    # --- entering and leaving (the room lock is held) ----------------------------------------------

    async def enter(self, m: Participant) -> None:
        """Admit ``m`` into the meeting: the limit, the session, the media, then everyone is told."""
        s = self.node.c.settings
        if rules.room_is_full(len(self.joined()), s.max_participants):
            self.refuse(m, "full")
            return
        try:
            joined = await meetings.do_join(self.node.c, self.room_id, m.id, m.name, m.is_host, m.browser,
                                           fence=self.fence, resume_digest=rules.resume_digest(m.resume_token))
        except LookupError:
            self.refuse(m, "ended")
            return
        self.session_id = joined.session_id
        if joined.session_started:
            self.recording.forget()
            self.watch.forget()
        m.move_to("joined", self.node.c.clock.now())
        media_error = await self.relay.open_media_of_newcomer(m)
        video_allowed = rules.may_send_video(video_senders=self.video_senders(),
                                             max_video_senders=s.max_video_senders)
        if not video_allowed:
            m.camera = False
        m.send(await self.admitted(m, video_allowed=video_allowed))
        servers = ice.admitted_servers(self.node, m)  # only now: no credentials for the lobby
        if servers is not None:
            m.send(servers)
        if media_error is not None:
            m.send(protocol.MediaError(code="media_unavailable", message=media_error))
        self.broadcast(protocol.ParticipantJoined(participant=m.view()), exclude=m)
        await self.recording.start_automatically()

    def refuse(self, m: Participant, reason: rules.Refusal) -> None:
        m.send(protocol.Denied(reason=reason))
        if m.conn is not None:
            m.conn.close(protocol.CLOSE_DENIED)
        m.move_to("gone")
        self.participants.pop(m.id, None)

    async def leave(self, m: Participant, reason: LeaveReason) -> None:
        """``m`` leaves the meeting (or the lobby) for good."""
        was_joined = m.state == "joined"
        if not m.move_to("gone"):
            return
        self.participants.pop(m.id, None)
        if m.grace is not None and m.grace is not asyncio.current_task():
            m.grace.cancel()
        m.grace = None
        if was_joined:
            await self.relay.close_media(m)
            m.feeds.clear()
            m.video_kinds.clear()
            ended = await meetings.do_leave(self.node.c, m.id, reason, fence=self.fence)
            self.broadcast(protocol.ParticipantLeft(participant_id=m.id, reason=reason))
            await self.watch.left(m)
            if m.is_host and not self.hosts_present():
                self.lobby.hosts_changed()
            if ended or not self.joined():
                await self.session_over()
        else:
            self.tell_hosts_lobby()
        self.forget_if_empty()

    async def dropped(self, m: Participant, conn: Connection) -> None:
        """The socket ``conn`` of ``m`` is gone. Decided under the room lock, so an admission or a
        resume running at the same moment is seen."""
        async with self.lock:
            if m.conn is not conn:
                self.forget_if_empty()
                return  # resumed on another socket meanwhile, or never attached
            m.conn = None
            if m.state == "lobby":
                m.move_to("gone")
                self.participants.pop(m.id, None)
                self.tell_hosts_lobby()
            elif m.state == "joined" and m.grace is None:
                self.start_grace(m)
            self.forget_if_empty()

    def start_grace(self, m: Participant) -> None:
        """``m`` has no socket: it leaves unless it resumes within the grace period."""
        m.grace = self.node.spawn(self._grace_over(m), name="resume-grace")

    async def _grace_over(self, m: Participant) -> None:
        # The injected clock's sleep: the grace period moves with a test's FakeClock.
        await self.node.c.clock.sleep(self.node.c.settings.resume_grace)
        async with self.lock:
            if m.conn is None and m.state == "joined":
                m.grace = None
                await self.leave(m, "dropped")

    # --- the session -------------------------------------------------------------------------------

    async def session_over(self) -> None:
        """Nobody is left in the meeting: the recording stops, captions end and the media room goes."""
        await self.recording.stop()
        await self.captions.session_over()
        self.session_id = None
        await self.relay.destroy_media_room()
        if self.node.cards is not None:
            self.node.spawn(self.node.cards.drop(self.room_id), name="media-cards-drop")

    async def end_meeting(self) -> None:
        """The meeting ends for everyone (the host ended it, or the room ended)."""
        async with self.lock:
            everyone = list(self.participants.values())
            session_id = self.session_id
            for x in everyone:
                joined = x.state == "joined"
                x.send(protocol.MeetingEnded() if joined else protocol.Denied(reason="ended"))
                if x.conn is not None:
                    x.conn.close(protocol.CLOSE_ENDED if joined else protocol.CLOSE_DENIED)
                if x.grace is not None:
                    x.grace.cancel()
                if joined:
                    await self.relay.close_media(x)
                x.move_to("gone")
            self.participants.clear()
            if session_id is not None:
                await meetings.do_end_session(self.node.c, session_id, reason="ended", fence=self.fence)
            await self.session_over()
            self.forget_if_empty()

    def forget_if_empty(self) -> None:
        if not self.participants:
            self.updates.throttle.cancel()
            self.lobby_feed.throttle.cancel()
            self.on_empty(self)


def room_changed(row: t.Room, theme: t.Theme | None) -> protocol.RoomChanged:
    """``room.updated``: the room's options as the page uses them (docs/signalling.md)."""
    def asset(key: str | None) -> str | None:
        return f"{API_PREFIX}/assets/{key}" if key else None

    features = {k: v for k, v in (row.available_features or {}).items() if k in protocol.Features.model_fields}
    choices = {k: v for k, v in (row.recording_options or {}).items() if k in protocol.RecordingChoices.model_fields}
    return protocol.RoomChanged(
        room=protocol.RoomView(id=row.id, display_name=row.display_name, meeting_code=row.meeting_code,
                               join_approval_level=row.join_approval_level),
        available_features=protocol.Features(**{k: bool(v) for k, v in features.items()}),
        recording_options=protocol.RecordingChoices(**{k: bool(v) for k, v in choices.items()}),
        theme=protocol.ThemeView(
            main_color=theme.main_color if theme else None, brand_text=theme.brand_text if theme else None,
            brand_image_colored=asset(theme.brand_image_colored) if theme else None,
            brand_image_white=asset(theme.brand_image_white) if theme else None,
            branded_favicon=asset(theme.branded_favicon) if theme else None))


def chat_view(line: meetings.ChatLine) -> protocol.ChatView:
    return protocol.ChatView(id=line.id, participant_id=line.participant_id, name=line.name,
                             role="host" if line.is_host else "guest", text=line.text, sent_at=line.sent_at)
