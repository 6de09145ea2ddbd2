"""aiortc participants for the media tier: a publisher whose microphone can speak up (a tone) or stay
silent, and the page's one subscriber PC, answering every ``media.offer`` and following the streams
map (``media.offer`` / ``media.streams``) the way the meeting page does."""

from __future__ import annotations

import array
import asyncio
import fractions
import math
import time
from typing import Any

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError, MediaStreamTrack, VideoStreamTrack

from ..signalling_client import Peer

SAMPLES = 960  # 20 ms at 48 kHz
LOUD = 8000  # amplitude of a talker's tone (of 32767)


class Voice(AudioStreamTrack):
    """A microphone: silence, or a 440 Hz tone after :meth:`speak` (``spoke_at``: when the first loud
    frame went to the encoder, ``time.monotonic()``)."""

    def __init__(self) -> None:
        super().__init__()
        self.loud = False
        self.spoke_at: float | None = None
        self._sent = 0
        self._start: float | None = None
        self._tone = array.array("h", [int(LOUD * math.sin(2 * math.pi * 440 * n / 48000)) for n in range(SAMPLES)])
        self._silence = bytes(2 * SAMPLES)

    def speak(self, loud: bool = True) -> None:
        self.loud = loud
        if not loud:
            self.spoke_at = None

    async def recv(self) -> Any:
        import av

        if self._start is None:
            self._start = time.monotonic()
        wait = self._start + self._sent / 48000 - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        frame = av.AudioFrame(format="s16", layout="mono", samples=SAMPLES)
        frame.planes[0].update(self._tone.tobytes() if self.loud else self._silence)
        frame.sample_rate = 48000
        frame.pts = self._sent
        frame.time_base = fractions.Fraction(1, 48000)
        self._sent += SAMPLES
        if self.loud and self.spoke_at is None:
            self.spoke_at = time.monotonic()
        return frame


async def publish(peer: Peer, *, video: bool = False, voice: Voice | None = None) -> RTCPeerConnection:
    """Publish the camera (a voice, and a test pattern with ``video``); waits for the answer."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTrack(voice or Voice())
    if video:
        pc.addTrack(VideoStreamTrack())
    await pc.setLocalDescription(await pc.createOffer())
    seen = len(peer.frames)
    await peer.send({"type": "media.publish", "kind": "camera", "sdp": pc.localDescription.sdp})
    answer = await next_frame(peer, seen, "media.answer", "media.error")
    assert answer["type"] == "media.answer", answer
    await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
    return pc


async def next_frame(peer: Peer, seen: int, *types: str, timeout: float = 15.0) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        for frame in peer.frames[seen:]:
            if frame["type"] in types:
                return frame
        await asyncio.sleep(0.02)
    raise AssertionError(f"none of {types} within {timeout}s: {[f['type'] for f in peer.frames]}")


def loudness(frame: Any) -> float:
    samples = array.array("h", bytes(frame.planes[0]))
    return math.sqrt(sum(x * x for x in samples[: len(samples)]) / max(1, len(samples))) if samples else 0.0


class Receiver:
    """The page's one subscriber PC: answers offers, maps mids to participants, and notes for each
    participant when its audio was first heard loud (``heard_at``, ``time.monotonic()``)."""

    def __init__(self, peer: Peer, *, since: int = 0) -> None:
        """``since``: the first of ``peer.frames`` to follow (a new connection after ``media.reset``)."""
        self.peer = peer
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.streams: dict[str, dict[str, Any]] = {}  # mid → Stream
        self.offers = 0
        self.heard_at: dict[str, float] = {}
        self.loud_frames: dict[str, int] = {}
        self.video_frames: dict[str, int] = {}  # participant id → decoded video frames
        self.video_size: dict[str, tuple[int, int]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self.pc.on("track", self._track)
        self._seen = since
        self._task = asyncio.create_task(self._follow())

    def follow(self, peer: Peer) -> None:
        """Go on with the same connection on ``peer``'s socket (a resume: the offers come there now)."""
        self.peer, self._seen = peer, 0

    def _who(self, track: MediaStreamTrack) -> str | None:
        for t in self.pc.getTransceivers():
            if t.receiver.track is track and t.mid is not None:
                return (self.streams.get(t.mid) or {}).get("participant_id")
        return None

    def _track(self, track: MediaStreamTrack) -> None:
        self._tasks.append(asyncio.create_task(self._read(track)))

    async def _read(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            who = self._who(track)
            if who is None:
                continue
            if track.kind == "audio":
                if loudness(frame) > LOUD / 16:  # decoded, the tone comes back at about a fifth of its RMS
                    self.loud_frames[who] = self.loud_frames.get(who, 0) + 1
                    self.heard_at.setdefault(who, time.monotonic())
            else:
                self.video_frames[who] = self.video_frames.get(who, 0) + 1
                self.video_size[who] = (frame.width, frame.height)

    async def _follow(self) -> None:
        while True:
            frames = self.peer.frames
            while self._seen < len(frames):
                frame = frames[self._seen]
                self._seen += 1
                if frame["type"] == "media.streams":
                    self.streams = {s["mid"]: s for s in frame["streams"]}
                elif frame["type"] == "media.offer":
                    self.streams = {s["mid"]: s for s in frame["streams"]}
                    await self.pc.setRemoteDescription(RTCSessionDescription(frame["sdp"], "offer"))
                    await self.pc.setLocalDescription(await self.pc.createAnswer())
                    await self.peer.send({"type": "media.answer", "sdp": self.pc.localDescription.sdp,
                                         "offer": frame.get("offer")})
                    self.offers += 1
            await asyncio.sleep(0.01)

    def audio_of(self) -> dict[str, list[str]]:
        """Participant id → the audio mids that carry it now."""
        out: dict[str, list[str]] = {}
        for mid, s in self.streams.items():
            if s["type"] == "audio" and s.get("participant_id"):
                out.setdefault(s["participant_id"], []).append(mid)
        return out

    async def close(self) -> None:
        self._task.cancel()
        for task in self._tasks:
            task.cancel()
        await self.pc.close()
