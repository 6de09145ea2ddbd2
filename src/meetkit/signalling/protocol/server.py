"""What meetkit sends to a browser (docs/signalling.md, "Server → client"): built from closed models,
so tests check every frame against ``SERVER_MESSAGE``."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from .base import ServerMessage
from .board import BoardLocked, BoardScene, BoardUpdated
from .captions import CaptionsError, CaptionsState, CaptionsText
from .client import VERSION, Date, Kind
from .watch import WatchEnded, WatchState


class Feeds(BaseModel):
    model_config = ConfigDict(extra="forbid")
    camera: int | None = None
    screen: int | None = None


class ParticipantView(BaseModel):
    model_config = ConfigDict(extra="forbid")
    participant_id: str
    name: str
    role: Literal["host", "guest"]
    mic: bool
    camera: bool
    hand: bool
    feeds: Feeds
    joined_at: Date


Role = Literal["host", "guest"]
LobbyReason = Literal["approval", "host_absent", "removed_before"]


class ChatView(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: int
    participant_id: str
    name: str
    role: Role  # the sender's role, so a guest named "Host" is still shown as a guest
    text: str
    sent_at: Date


class RoomView(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    display_name: str
    meeting_code: str
    join_approval_level: str


class Limits(BaseModel):
    model_config = ConfigDict(extra="forbid")
    participants: int
    video_senders: int


class IceServerView(BaseModel):
    """One ``RTCConfiguration.iceServers`` entry: a TURN server and short-lived credentials for it."""
    model_config = ConfigDict(extra="forbid")
    urls: list[str]
    username: str | None = None
    credential: str | None = None


class Welcome(ServerMessage):
    type: Literal["welcome"] = "welcome"
    v: int = VERSION
    participant_id: str
    resume_token: str
    role: Literal["host", "guest"]
    state: Literal["lobby", "joined"]
    resumed: bool
    room: RoomView
    limits: Limits
    locked: bool
    browser_id: str  # signed; the browser keeps it and sends it in every later hello
    ice_servers: list[IceServerView] = Field(default_factory=list)  # empty: no TURN configured


class IceServers(ServerMessage):
    """Fresh TURN credentials, sent before the last ones expire (signalling/ice.py)."""
    type: Literal["ice.servers"] = "ice.servers"
    ice_servers: list[IceServerView]
    expires_at: Date


class Lobby(ServerMessage):
    type: Literal["lobby"] = "lobby"
    reason: LobbyReason
    # Whether a host is in the meeting to let them in (sent again when that changes), so the page
    # does not promise a host who is not there.
    host_present: bool | None = None


class Admitted(ServerMessage):
    type: Literal["admitted"] = "admitted"
    session_id: str
    participants: list[ParticipantView]
    chat: list[ChatView]
    video_allowed: bool
    recording: bool = False
    message: str | None = None


class Denied(ServerMessage):
    type: Literal["denied"] = "denied"
    reason: Literal["host_denied", "locked", "full", "ended", "lobby_full"]


class Waiting(BaseModel):
    model_config = ConfigDict(extra="forbid")
    participant_id: str
    name: str
    since: Date
    reason: LobbyReason = "approval"  # removed_before: the host removed this browser earlier in the session


class LobbyUpdate(ServerMessage):
    """To hosts: the whole lobby (``waiting``) when a host joins or resumes, then coalesced deltas
    (``added`` upserts, ``removed`` ids); ``count`` is how many wait after this update."""
    type: Literal["lobby.update"] = "lobby.update"
    waiting: list[Waiting] | None = None
    added: list[Waiting] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)
    count: int


class ParticipantJoined(ServerMessage):
    type: Literal["participant.joined"] = "participant.joined"
    participant: ParticipantView


class ParticipantUpdated(ServerMessage):
    type: Literal["participant.updated"] = "participant.updated"
    participant: ParticipantView


class ParticipantLeft(ServerMessage):
    type: Literal["participant.left"] = "participant.left"
    participant_id: str
    reason: Literal["left", "removed", "dropped", "ended"]


class TalkingOut(ServerMessage):
    type: Literal["talking"] = "talking"
    participant_id: str
    talking: bool


class ChatMessageOut(ServerMessage):
    type: Literal["chat.message"] = "chat.message"
    id: int
    participant_id: str
    name: str
    role: Role
    text: str
    sent_at: Date


class ChatExport(ServerMessage):
    type: Literal["chat.export"] = "chat.export"
    messages: list[ChatView]
    text: str  # the same as lines of text, one line per message, newlines escaped (domain/chat_export.py)


class IceCandidateOut(BaseModel):
    candidate: str
    sdpMid: str | None = None
    sdpMLineIndex: int | None = None


class MediaAnswerOut(ServerMessage):
    type: Literal["media.answer"] = "media.answer"
    kind: Kind
    feed: int
    sdp: str
    offer: int | None = None  # the media.publish answered (its ``offer``, when it gave one)


class Stream(BaseModel):
    """One m-line of the page's subscriber PC: whose media it carries. ``slot``: an audio slot meetkit
    re-points (its participant changes with ``media.streams``). An inactive m-line (unsubscribed, or
    its sender left) has no participant, feed or kind (absent in the frame, like every null)."""
    model_config = ConfigDict(extra="forbid", frozen=True)
    mid: str
    type: Literal["audio", "video"]
    participant_id: str | None = None
    feed: int | None = None
    kind: Kind | None = None
    slot: bool = False


class MediaOffer(ServerMessage):
    """Janus's offer for the page's one subscriber PC (the first and each renegotiation)."""
    type: Literal["media.offer"] = "media.offer"
    offer: int  # counts up per participant; the answer names it, and an offer sent again keeps it
    sdp: str
    streams: list[Stream]


class MediaStreams(ServerMessage):
    """The subscriber PC's streams changed without SDP (an audio slot switched)."""
    type: Literal["media.streams"] = "media.streams"
    streams: list[Stream]


class MediaCandidateOut(ServerMessage):
    """A candidate Janus trickled for one of the participant's connections (rare: Janus puts its
    candidates in its SDP)."""
    type: Literal["media.candidate"] = "media.candidate"
    target: Literal["camera", "screen", "subscriber"]
    candidate: IceCandidateOut | None

    def frame(self) -> str:
        # The end of candidates is an explicit null, as the browser's own (other None fields go).
        body = self.model_dump(mode="json", exclude_none=True)
        return json.dumps({**body, "candidate": body.get("candidate")}, separators=(",", ":"))


class MediaError(ServerMessage):
    type: Literal["media.error"] = "media.error"
    kind: Kind | None = None
    feed: int | None = None
    offer: int | None = None  # the media.publish refused (its ``offer``, when it gave one)
    code: str
    message: str


class MediaReset(ServerMessage):
    type: Literal["media.reset"] = "media.reset"


class Muted(ServerMessage):
    type: Literal["muted"] = "muted"
    by: str


class Removed(ServerMessage):
    type: Literal["removed"] = "removed"


class MeetingEnded(ServerMessage):
    type: Literal["meeting.ended"] = "meeting.ended"


class Locked(ServerMessage):
    type: Literal["locked"] = "locked"
    locked: bool


class Recording(ServerMessage):
    type: Literal["recording"] = "recording"
    active: bool


class Features(BaseModel):
    """The room's ``available_features`` as the meeting uses them (the REST contract's names)."""

    model_config = ConfigDict(extra="forbid")
    is_recording_available: bool = True
    is_chat_available: bool = True
    is_whiteboard_available: bool = True
    is_locale_switcher_available: bool = False
    is_captions_available: bool = False


class RecordingChoices(BaseModel):
    model_config = ConfigDict(extra="forbid")
    auto_record: bool = False
    record_only_owner: bool = False


class ThemeView(BaseModel):
    """The room's theme as the page draws it; image URLs are the API's asset links (same origin)."""

    model_config = ConfigDict(extra="forbid")
    main_color: str | None = None
    brand_text: str | None = None
    brand_image_colored: str | None = None
    brand_image_white: str | None = None
    branded_favicon: str | None = None


class RoomChanged(ServerMessage):
    """The room was updated (REST PATCH, or its theme changed) while the meeting runs: what the page
    shows and allows follows at once."""

    type: Literal["room.updated"] = "room.updated"
    room: RoomView
    available_features: Features
    recording_options: RecordingChoices
    theme: ThemeView


class Pong(ServerMessage):
    type: Literal["pong"] = "pong"
    # The server's clock (ms since the epoch): with the ping's round trip, how a page estimates it
    # (watch together keeps pages in step on the server's time, docs/watch.md).
    server_time: float | None = None
    id: int | None = None  # the ping's


LimitClass = Literal["chat", "state", "media", "host", "board", "ping", "other"]


class Error(ServerMessage):
    type: Literal["error"] = "error"
    code: str
    message: str
    limit: LimitClass | None = None  # code rate_limited: the message class whose limit was hit
    retry_after_ms: int | None = None  # code rate_limited: when the next message of that class is accepted


AnyServerMessage = Annotated[
    Welcome | Lobby | Admitted | Denied | LobbyUpdate | ParticipantJoined | ParticipantUpdated | ParticipantLeft
    | TalkingOut | ChatMessageOut | ChatExport | MediaAnswerOut | MediaOffer | MediaStreams | MediaCandidateOut
    | MediaError | MediaReset | Muted | Removed | MeetingEnded | Locked | Recording | Pong | Error | IceServers
    | RoomChanged | BoardScene | BoardUpdated | BoardLocked | WatchState | WatchEnded | CaptionsState | CaptionsText
    | CaptionsError,
    Field(discriminator="type"),
]
SERVER_MESSAGE: TypeAdapter[AnyServerMessage] = TypeAdapter(AnyServerMessage)
