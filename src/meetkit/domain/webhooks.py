"""The callback (webhook) events of the contract: closed, typed payloads, and where each one goes.

Every payload carries ``event``. Dates are rendered the contract's way (ISO 8601 UTC, ms, ``Z``)."""

from __future__ import annotations

import enum
import hashlib
import hmac
from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, TypeAdapter

from .dates import format_date

Date = Annotated[datetime, PlainSerializer(format_date, return_type=str, when_used="json")]
SIGNATURE_VERSION = "v1"


class Channel(enum.StrEnum):
    """Which of the three callback URLs an event goes to."""

    ROOMS = "rooms"
    SESSIONS = "sessions"
    RECORDINGS = "recordings"


class Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RoomExpired(Event):
    event: Literal["room:expired"] = "room:expired"
    room_id: str
    room_type: Literal["instant", "long_term"]
    expires_at: Date
    created_at: Date


class SessionStarted(Event):
    event: Literal["session:started"] = "session:started"
    session_id: str
    room_id: str
    started_at: Date


class SessionEnded(Event):
    event: Literal["session:ended"] = "session:ended"
    session_id: str
    room_id: str
    started_at: Date
    ended_at: Date


class _Participant(Event):
    participant_id: str
    session_id: str
    room_id: str
    name: str
    type: str
    is_host: bool


class ParticipantJoined(_Participant):
    event: Literal["session:participant:joined"] = "session:participant:joined"


class ParticipantLeft(_Participant):
    event: Literal["session:participant:left"] = "session:participant:left"


class RecordingStarted(Event):
    event: Literal["recording:started"] = "recording:started"
    recording_id: str
    session_id: str


class RecordingEnded(Event):
    event: Literal["recording:ended"] = "recording:ended"
    recording_id: str
    session_id: str
    started_at: Date
    ended_at: Date
    duration: int = Field(ge=0, description="seconds")


class RecordingUploaded(Event):
    event: Literal["recording:uploaded"] = "recording:uploaded"
    recording_id: str
    session_id: str
    room_id: str
    started_at: Date
    ended_at: Date
    duration: int = Field(ge=0, description="seconds")
    url: str


class TranscriptReady(Event):
    """A meetkit extension: live captions were on in the session, and its transcript is complete."""

    event: Literal["session:transcript:ready"] = "session:transcript:ready"
    session_id: str
    room_id: str
    cues: int = Field(ge=0, description="final captions in the transcript")
    url: str = Field(description="GET it with the application's token: WebVTT, or JSON with ?format=json")


WebhookEvent = Annotated[
    RoomExpired | SessionStarted | SessionEnded | ParticipantJoined | ParticipantLeft | RecordingStarted
    | RecordingEnded | RecordingUploaded | TranscriptReady,
    Field(discriminator="event"),
]
WEBHOOK_EVENT: TypeAdapter[WebhookEvent] = TypeAdapter(WebhookEvent)

EVENT_MODELS: dict[str, type[Event]] = {
    "room:expired": RoomExpired,
    "session:started": SessionStarted,
    "session:ended": SessionEnded,
    "session:participant:joined": ParticipantJoined,
    "session:participant:left": ParticipantLeft,
    "recording:started": RecordingStarted,
    "recording:ended": RecordingEnded,
    "recording:uploaded": RecordingUploaded,
    "session:transcript:ready": TranscriptReady,
}


def channel_of(event_name: str) -> Channel:
    """rooms:* / room:* → rooms, session:* → sessions, recording:* → recordings."""
    prefix = event_name.split(":", 1)[0]
    if prefix in ("room", "rooms"):
        return Channel.ROOMS
    if prefix in ("session", "sessions"):
        return Channel.SESSIONS
    if prefix in ("recording", "recordings"):
        return Channel.RECORDINGS
    raise ValueError(f"unknown event {event_name!r}")


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Meetkit-Signature`` value: ``v1=`` + hex HMAC-SHA256(secret, "<timestamp>.<body>")."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return f"{SIGNATURE_VERSION}={mac.hexdigest()}"


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """What a receiver does (also in docs/webhooks.md)."""
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(f"{SIGNATURE_VERSION}={expected}", signature)


# Room metadata goes in a header: printable ASCII stays as it is, anything else is percent-encoded UTF-8.
_METADATA_SAFE = "".join(chr(i) for i in range(0x20, 0x7F) if chr(i) != "%")


def encode_metadata(metadata: str) -> str:
    """The ``X-Meetkit-Room-Metadata`` value: ``urllib.parse.unquote`` gives the exact text back."""
    return quote(metadata, safe=_METADATA_SAFE)
