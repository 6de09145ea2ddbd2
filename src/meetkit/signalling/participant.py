"""One person in a room of this process: in the lobby, in the meeting, or gone."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from ..domain.lobby import LobbyReason
from . import protocol
from .connection import Connection
from .flow import SocketFlow
from .node import MediaParticipantPort

State = Literal["lobby", "joined", "gone"]


@dataclass(eq=False)
class Participant:
    id: str
    name: str
    is_host: bool
    resume_token: str
    mic: bool
    camera: bool
    since: datetime
    state: State = "lobby"
    lobby_reason: LobbyReason = "approval"
    hand: bool = False
    joined_at: datetime | None = None
    conn: Connection | None = None
    browser: str | None = None  # the per-browser id's random part (domain/browsers.py), stored with the row
    browser_token: str = ""  # the signed per-browser id, given back in welcome
    grace: asyncio.Task[None] | None = None  # the resume grace period after a dropped socket
    media: MediaParticipantPort | None = None
    media_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    feeds: dict[str, int] = field(default_factory=dict)
    pending: dict[str, int] = field(default_factory=dict)  # published, not yet live (not announced)
    video_kinds: set[str] = field(default_factory=set)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # one media request of this participant at a time
    flow: SocketFlow | None = None  # its rate limits (signalling/flow.py), kept across resumes
    ice_refresh: asyncio.Task[None] | None = None  # the next TURN credentials (signalling/ice.py)
    # Of a participant adopted from another node (handover.adopt): its stored resume digest, as its
    # resume token is not known here until the browser brings it.
    resume_digest: str | None = None

    def move_to(self, state: State, at: datetime | None = None) -> bool:
        """The one place a participant's state changes. Gone is final; ``at`` is when a participant
        joined. Returns whether anything changed."""
        if self.state == "gone" or self.state == state:
            return False
        self.state = state
        if state == "joined":
            self.joined_at = at
        if state == "gone" and self.ice_refresh is not None:
            self.ice_refresh.cancel()  # no credentials for who left
            self.ice_refresh = None
        return True

    def present(self) -> bool:
        return self.state != "gone"

    def send(self, message: protocol.ServerMessage | str) -> None:
        if self.conn is not None:
            self.conn.send(message)

    def view(self) -> protocol.ParticipantView:
        return protocol.ParticipantView(
            participant_id=self.id, name=self.name, role="host" if self.is_host else "guest", mic=self.mic,
            camera=self.camera, hand=self.hand,
            feeds=protocol.Feeds(camera=self.feeds.get("camera"), screen=self.feeds.get("screen")),
            joined_at=self.joined_at or self.since)
