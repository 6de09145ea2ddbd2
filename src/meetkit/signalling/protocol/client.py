"""What a browser sends on the meeting socket (docs/signalling.md, "Client → server"): closed models,
parsed by ``parse_client`` with a code for every refusal."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, TypeAdapter, ValidationError, field_validator

from ...domain.dates import format_date
from ...domain.names import normalize_name
from .base import ClientMessage
from .board import BoardGet, BoardUpdate, HostBoardClear, HostBoardLock
from .captions import CaptionsGet, CaptionsStart, CaptionsStop
from .watch import WatchControl, WatchGet, WatchHandOver, WatchStart, WatchStop

VERSION = 1
Date = Annotated[datetime, PlainSerializer(format_date, return_type=str, when_used="json")]
Text = Annotated[str, Field(min_length=1)]
Id = Annotated[str, Field(min_length=1, max_length=64)]
Feed = Annotated[int, Field(ge=1, lt=2**53)]
Kind = Literal["camera", "screen"]
MAX_SDP = 64 * 1024


def _clean(value: str) -> str:
    """Text from a browser must be storable everywhere: no NUL, no lone surrogates."""
    if "\x00" in value:
        raise ValueError("must not contain NUL")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("must be valid UTF-8") from exc
    return value


class Resume(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    participant_id: Id
    resume_token: Annotated[str, Field(min_length=1, max_length=128)]


class Hello(ClientMessage):
    type: Literal["hello"]
    v: Literal[1]
    name: Annotated[str, Field(min_length=1, max_length=100)]
    host_token: Annotated[str, Field(max_length=128)] | None = None
    resume: Resume | None = None
    # The signed per-browser id meetkit gave this browser in an earlier ``welcome`` (kept in
    # localStorage): how a removed participant is known when coming back (docs/signalling.md).
    browser_id: Annotated[str, Field(max_length=128)] | None = None
    mic: bool = True
    camera: bool = True

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        # What others will see (domain/names.py); nothing visible left → bad_message, and hello fails.
        return normalize_name(_clean(v))


class SetName(ClientMessage):
    """A new display name (the embedding page's ``setDisplayName``, docs/embed.md); cleaned as in hello."""

    type: Literal["name.set"]
    name: Annotated[str, Field(min_length=1, max_length=100)]

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return normalize_name(_clean(v))


class Ping(ClientMessage):
    type: Literal["ping"]
    id: Annotated[int, Field(ge=0, lt=2**53)] | None = None  # echoed in the pong (a page timing the round trip)


class ChatSend(ClientMessage):
    type: Literal["chat.send"]
    text: Text

    @field_validator("text")
    @classmethod
    def _text(cls, v: str) -> str:
        v = _clean(v)
        if not v.strip():
            raise ValueError("text must not be blank")
        return v


class Hand(ClientMessage):
    type: Literal["hand"]
    raised: bool


class Talking(ClientMessage):
    type: Literal["talking"]
    talking: bool


class MediaState(ClientMessage):
    type: Literal["media.state"]
    mic: bool
    camera: bool


class MediaPublish(ClientMessage):
    type: Literal["media.publish"]
    kind: Kind
    sdp: Annotated[str, Field(min_length=1, max_length=MAX_SDP)]
    trickle: bool = False  # the offer may lack candidates: they follow as media.candidate
    restart: bool = False  # a new offer for the live publisher (ICE restart): same handle, same feed
    offer: Annotated[int, Field(ge=0, le=2**53)] | None = None  # the page's number for it, echoed in the reply


class IceCandidate(BaseModel):
    """An ``RTCIceCandidate`` as the browser's ``toJSON()`` gives it (``usernameFragment`` ignored)."""
    model_config = ConfigDict(extra="ignore", frozen=True)
    candidate: Annotated[str, Field(max_length=512)]
    sdpMid: Annotated[str, Field(max_length=64)] | None = None
    sdpMLineIndex: Annotated[int, Field(ge=0, le=64)] | None = None


class MediaCandidate(ClientMessage):
    type: Literal["media.candidate"]
    target: Literal["camera", "screen", "subscriber"]
    candidate: IceCandidate | None  # None: the browser's gathering for that connection completed


class MediaUnpublish(ClientMessage):
    type: Literal["media.unpublish"]
    kind: Kind


class Tile(BaseModel):
    """A video the page shows, and its size in device pixels (which simulcast layer fits it)."""
    model_config = ConfigDict(extra="ignore", frozen=True)
    feed: Feed
    width: Annotated[int, Field(ge=0, le=16384)]
    height: Annotated[int, Field(ge=0, le=16384)]


MAX_TILES = 64


class MediaView(ClientMessage):
    """The videos the page shows now; meetkit decides the whole subscription from it (and adds audio)."""
    type: Literal["media.view"]
    tiles: Annotated[list[Tile], Field(max_length=MAX_TILES)]
    low_bandwidth: bool = False


class MediaAnswer(ClientMessage):
    """The page's answer to the subscriber ``media.offer``."""
    type: Literal["media.answer"]
    sdp: Annotated[str, Field(min_length=1, max_length=MAX_SDP)]
    trickle: bool = False
    offer: Annotated[int, Field(ge=0)] | None = None  # the media.offer answered (None: the outstanding one)


class MediaIceRestart(ClientMessage):
    type: Literal["media.ice_restart"]
    target: Literal["subscriber"]


class Leave(ClientMessage):
    type: Literal["leave"]


class HostAdmit(ClientMessage):
    type: Literal["host.admit"]
    participant_id: Id


class HostDeny(ClientMessage):
    type: Literal["host.deny"]
    participant_id: Id


class HostAdmitAll(ClientMessage):
    type: Literal["host.admit_all"]


class HostMute(ClientMessage):
    type: Literal["host.mute"]
    participant_id: Id


class HostMuteAll(ClientMessage):
    type: Literal["host.mute_all"]


class HostRemove(ClientMessage):
    type: Literal["host.remove"]
    participant_id: Id


class HostLock(ClientMessage):
    type: Literal["host.lock"]
    locked: bool


class HostEnd(ClientMessage):
    type: Literal["host.end"]


class HostChatExport(ClientMessage):
    type: Literal["host.chat_export"]


class HostRecord(ClientMessage):
    type: Literal["host.record"]
    active: bool


AnyClientMessage = Annotated[
    Hello | Ping | ChatSend | Hand | SetName | Talking | MediaState | MediaPublish | MediaUnpublish | MediaView
    | MediaAnswer | MediaIceRestart | MediaCandidate | Leave | HostAdmit | HostDeny | HostAdmitAll | HostMute
    | HostMuteAll | HostRemove | HostLock | HostEnd | HostChatExport | HostRecord | BoardGet | BoardUpdate
    | HostBoardClear | HostBoardLock | WatchStart | WatchControl | WatchHandOver | WatchStop | WatchGet
    | CaptionsStart | CaptionsStop | CaptionsGet,
    Field(discriminator="type"),
]
CLIENT_MESSAGE: TypeAdapter[AnyClientMessage] = TypeAdapter(AnyClientMessage)
CLIENT_TYPES = frozenset(m.model_fields["type"].annotation.__args__[0]  # type: ignore[union-attr]
                         for m in ClientMessage.__subclasses__())


class ProtocolError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def parse_client(raw: str | bytes) -> AnyClientMessage:
    """One frame from a browser; raises ProtocolError with a code for the ``error`` reply."""
    if len(raw) > MAX_SDP + 4096:
        raise ProtocolError("too_large", "message too large")
    try:
        return CLIENT_MESSAGE.validate_json(raw)
    except ValidationError as exc:
        kind: Any = None
        for err in exc.errors():
            if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
                kind = err["type"]
        if kind == "union_tag_invalid":
            raise ProtocolError("unknown_type", "unknown message type") from None
        if kind == "union_tag_not_found":
            raise ProtocolError("bad_message", "a message needs a type") from None
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"][1:]) or "message"
        raise ProtocolError("bad_message", f"{where}: {first['msg']}") from None
