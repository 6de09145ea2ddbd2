"""What every room of this process shares: the container, the media server behind its port (once it
is up) or the pool of them, which meetings this node owns (cluster/ownership.py), the browsers'
candidate filter, and the background tasks the rooms start (each owned, so a failure is logged and
shutdown cancels them)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from ..actions import media_servers
from ..captions.engine import SpeechEngine
from ..cluster.media_cards import MediaCards
from ..cluster.ownership import Ownership, SoleOwnership
from ..container import Container
from ..domain.placement import JanusLoad
from ..media.participant import CandidateTarget
from ..media.sdp import Networks, parse_networks
from ..media.subscriber import Subscriber
from ..media.videoroom import AudioLevels, MediaEventCallback

log = logging.getLogger("meetkit.signalling")

MEDIA_TIMEOUT = 15.0


class MediaParticipantPort(Protocol):
    """One participant's media in the media server (``media.videoroom.MediaParticipant``)."""

    async def publish(self, kind: str, feed: int, display: str, sdp_offer: str, *, trickle: bool = False) -> str: ...
    async def renegotiate(self, kind: str, sdp_offer: str, *, trickle: bool = False) -> str: ...
    async def trickle(self, target: CandidateTarget, candidate: dict[str, Any] | None) -> None: ...
    async def wait_live(self, kind: str, time_limit: float = 10.0) -> None: ...
    async def unpublish(self, kind: str) -> None: ...
    async def record(self, kind: str, filename: str | None) -> None: ...
    @property
    def subscriber(self) -> Subscriber: ...
    async def close(self) -> None: ...


class MediaPort(Protocol):
    """The media server (``media.videoroom.MediaServer``): the process boundary of signalling."""

    async def create_room(self, room: int, *, publishers: int, record: bool = False, rec_dir: str | None = None,
                          description: str = "", audio_levels: AudioLevels | None = None) -> None: ...
    async def destroy_room(self, room: int) -> None: ...
    async def allow(self, room: int, token: str) -> None: ...
    async def disallow(self, room: int, token: str) -> None: ...
    async def kick(self, room: int, feed: int) -> None: ...
    async def open_participant(self, room: int, token: str, *,
                               on_event: MediaEventCallback | None = None) -> MediaParticipantPort: ...
    async def forward_audio(self, room: int, feed: int, mid: str, port: int, host: str = "127.0.0.1") -> int: ...
    async def stop_forward(self, room: int, feed: int, stream_id: int) -> None: ...


class MediaPoolPort(Protocol):
    """A pool of media servers (``media.pool.MediaPool``): a new meeting is placed on one of them."""

    servers: dict[str, Any]  # name → MediaPort
    async def loads(self) -> list[JanusLoad]: ...


@dataclass
class Node:
    c: Container
    media: MediaPort | None = None  # the one media server, without a pool
    pool: MediaPoolPort | None = None  # a pool of them (MEETKIT_JANUS_URLS)
    candidate_networks: Networks | None = None
    ownership: Ownership = field(default_factory=SoleOwnership)
    # Where this node keeps its meetings' media cards for a node that takes one over (signalling/carry.py):
    # with Redis and an external Janus the nodes share; None otherwise.
    cards: MediaCards | None = None
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    speech: SpeechEngine | None = None  # live captions' engine (captions/engines.py); None: captions off
    speech_streams: int = 0  # speakers transcribed now (MEETKIT_CAPTIONS_MAX_SPEAKERS), over all meetings

    @classmethod
    def of(cls, c: Container, media: MediaPort | None = None, ownership: Ownership | None = None) -> Node:
        return cls(c=c, media=media, candidate_networks=parse_networks(c.settings.media_candidate_networks),
                   ownership=ownership or SoleOwnership())

    @property
    def has_media(self) -> bool:
        return self.media is not None or self.pool is not None

    async def place(self, room_id: str) -> MediaPort | None:
        """The media server a meeting starting its media goes on: the one, or the pool's choice."""
        if self.pool is None:
            return self.media
        name = await media_servers.place_meeting(self.c, self.pool, room_id)
        if name is None:
            log.warning("no Janus of the pool can take a meeting (none reachable, or all drained)")
            return None
        return cast(MediaPort, self.pool.servers[name])

    def spawn(self, work: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.create_task(work, name=name)
        self.tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("signalling task %s failed", task.get_name(), exc_info=task.exception())

    def cancel_tasks(self) -> None:
        for task in list(self.tasks):
            task.cancel()
