"""One speaker's live captions (signalling/captions.py): their engine stream, the Janus forward of their
microphone into a loopback port of ours while it is on, and where their words fall in the session's time."""

from __future__ import annotations

import asyncio
import bisect
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..captions.audio import SpeakerAudio
from ..captions.engine import BYTES_PER_SECOND, SpeechStream
from .participant import Participant

if TYPE_CHECKING:
    from .node import MediaPort

log = logging.getLogger("meetkit.signalling")

FORWARD_SILENCE = 6.0  # seconds without a packet from an unmuted speaker's forward: it is made again


class Speaker:
    def __init__(self, m: Participant, stream: SpeechStream, now: Callable[[], float]) -> None:
        """``now``: seconds since the session started."""
        self.m = m
        self.stream = stream
        self.audio: SpeakerAudio | None = None
        self.forward: tuple[int, int] | None = None  # (feed, Janus stream id)
        self.live = True  # results are shown (until its stream failed, or closed and flushed)
        self.counted = True  # in the node's speech_streams (until Captions releases it)
        self.line = 0
        self.muted_since = now()  # (session seconds) since when nothing is forwarded
        self._packets = 0  # packets the forward had brought at the last check
        self._progress_at = 0.0  # loop time they last grew (or the forward began)
        self._fed = 0  # bytes of audio given to the engine
        # (engine audio seconds, session seconds) where an engine's times fall; a new one at every forward.
        self._marks: list[tuple[float, float]] = []
        self._mark_next = True
        self._now = now

    def on_pcm(self, pcm: bytes, at: float) -> None:
        seconds = self._fed / BYTES_PER_SECOND - self.stream.dropped_seconds  # the engine's own clock
        if self._mark_next or seconds - self._marks[-1][0] >= 0.5:
            self._mark_next = False
            self._marks.append((seconds, self._now()))
            del self._marks[:-600]
        self._fed += len(pcm)
        self.stream.feed(pcm)

    def wall(self, audio_seconds: float) -> float:
        """When, in the session, the engine's ``audio_seconds`` were spoken (to the nearest half second)."""
        if not self._marks:
            return self._now()
        i = max(0, bisect.bisect_right(self._marks, (audio_seconds, float("inf"))) - 1)
        fed, wall = self._marks[i]
        return wall + max(0.0, audio_seconds - fed)

    def forward_lost(self) -> bool:
        """A forward that brought nothing for FORWARD_SILENCE seconds is gone: Janus drops its forwarders
        when a publisher publishes again on a new handle (same feed) or unpublishes. (A muted browser
        still sends silent packets, so an unmuted one that sends none has no forward.)"""
        now = asyncio.get_running_loop().time()
        packets = self.audio.counts.decoded if self.audio is not None else 0
        if packets != self._packets or not self._progress_at:
            self._packets, self._progress_at = packets, now
        return now - self._progress_at >= FORWARD_SILENCE

    async def open_forward(self, media: MediaPort, janus_room: int, feed: int, mid: str) -> None:
        """Janus forwards the speaker's audio to a port of ours. The speaker's stream may fail meanwhile:
        nothing is kept then (the socket closed, the forward stopped)."""
        audio = await SpeakerAudio.open(self.on_pcm)
        try:
            stream_id = await media.forward_audio(janus_room, feed, mid, audio.port)
        except Exception as exc:  # the feed went meanwhile; the next sync tries again
            audio.close()
            log.info("captions: forwarding feed %s failed: %s", feed, type(exc).__name__)
            return
        if not self.live or self.forward is not None:
            audio.close()
            await _stop(media, janus_room, feed, stream_id)
            return
        self.audio, self.forward, self._mark_next = audio, (feed, stream_id), True

    async def close_forward(self, media: MediaPort | None, janus_room: int | None) -> None:
        forward, self.forward = self.forward, None
        if self.audio is not None:
            self.audio.close()
            self.audio = None
        if forward is not None:
            self.muted_since = self._now()
        self._packets, self._progress_at = 0, 0.0
        if forward is not None and media is not None and janus_room is not None:
            await _stop(media, janus_room, forward[0], forward[1])


async def _stop(media: MediaPort, janus_room: int, feed: int, stream_id: int) -> None:
    try:
        await media.stop_forward(janus_room, feed, stream_id)
    except Exception as exc:  # Janus gone: it took the forward with it
        log.info("captions: stopping a forward failed: %s", type(exc).__name__)
