"""aiortc tracks that send a clip's pre-encoded packets as they are, in real time, looped."""

from __future__ import annotations

import asyncio
import fractions
from typing import Any

from aiortc.mediastreams import MediaStreamTrack

from .clips import Clip

CLOCK = {"video": 90_000, "audio": 48_000}  # the RTP clock rates of VP8 and Opus

LOUD, SILENT = -20, -127  # the RTP audio level aiortc writes is -audio_level dBov


class PacketTrack(MediaStreamTrack):
    """Yields ``av.Packet``s: aiortc's sender then packs them into RTP without an encoder.

    Each loop of the clip continues the timestamps (a receiver sees one steady stream). For audio,
    ``talking`` sets the RTP audio-level extension (Janus's audiolevel_event reads it): loud while
    True, silence when False; the Opus payload is the same tone either way."""

    def __init__(self, clip: Clip, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self._packets = clip.video if kind == "video" else clip.audio
        self._duration = clip.duration
        self._base = fractions.Fraction(1, CLOCK[kind])
        self._index = 0
        self._loops = 0
        self._start: float | None = None
        self.talking = True
        self.sent = 0

    @property
    def audio_level(self) -> int | None:
        """Read by the patched sender (participant.py) for audio packets."""
        if self.kind != "audio":
            return None
        return LOUD if self.talking else SILENT

    async def recv(self) -> Any:
        import av

        if self.readyState != "live":
            from aiortc.mediastreams import MediaStreamError

            raise MediaStreamError
        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = loop.time()
        payload, at = self._packets[self._index]
        at += self._loops * self._duration
        self._index += 1
        if self._index == len(self._packets):
            self._index, self._loops = 0, self._loops + 1
        wait = self._start + at - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        packet = av.Packet(payload)
        packet.pts = round(at * CLOCK[self.kind])
        packet.time_base = self._base
        self.sent += 1
        return packet
