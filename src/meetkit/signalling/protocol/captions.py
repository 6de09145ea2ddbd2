"""Live captions' messages, both ways (docs/captions.md)."""

from __future__ import annotations

from typing import Literal

from .base import ClientMessage, ServerMessage


class CaptionsStart(ClientMessage):
    """A host turns live captions on for the meeting: everyone is told they are being transcribed."""

    type: Literal["captions.start"]


class CaptionsStop(ClientMessage):
    type: Literal["captions.stop"]


class CaptionsGet(ClientMessage):
    """Asks whether captions are on (a page (re)joining): ``captions.state``."""

    type: Literal["captions.get"]


class CaptionsState(ServerMessage):
    """Captions are on or off in the meeting; ``by``: the host who switched them (None: sent to a page asking)."""

    type: Literal["captions.state"] = "captions.state"
    on: bool
    by: str | None = None
    engine: str | None = None  # which engine transcribes (pocketsphinx, vosk, openai)


class CaptionsText(ServerMessage):
    """What a speaker is saying. A partial (``final`` false) is replaced by the speaker's next line; a
    final one is kept (and is in the transcript). ``line`` counts a speaker's lines: a partial and the
    final it becomes share it."""

    type: Literal["captions.text"] = "captions.text"
    participant_id: str
    name: str
    text: str
    final: bool
    line: int


class CaptionsError(ServerMessage):
    """The engine failed (unreachable, too slow, refused): captions stop for a while; the meeting goes on."""

    type: Literal["captions.error"] = "captions.error"
    reason: Literal["unreachable", "timeout", "refused", "bad_reply", "unavailable"]
    message: str
