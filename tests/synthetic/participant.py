"""Synthetic participants over meetkit's real meeting socket and real WebRTC (aiortc).

``SyntheticPublisher``: hello → admitted → ``media.publish {kind: "camera", sdp}`` with a complete
offer (aiortc gathers before it returns) → ``media.answer``; sends a clip's pre-encoded VP8 + Opus.
``SyntheticReceiver``: hello (mic and camera off) → admitted → ``media.view {tiles, low_bandwidth}``;
answers every ``media.offer`` of its one subscriber connection with ``media.answer {sdp}``; counts what
arrives per stream (``streams``), never decodes.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from . import receiving
from .clips import clip
from .socket import MeetingSocket
from .tracks import PacketTrack

MEDIA_ADDR = "127.0.0.5"  # tests/support.MEDIA_ADDR: the loopback-range ICE address (docs/media.md)
_sender_patched = False


def loopback_ice(address: str = MEDIA_ADDR) -> None:
    """Gather ICE candidates on ``address`` only, for the whole process (bench processes; tests may
    use monkeypatch on aioice.ice.get_host_addresses instead)."""
    import aioice.ice

    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: [address]


def _patch_sender() -> None:
    """Pre-encoded audio has no samples to measure: take its RTP audio level from the track."""
    global _sender_patched
    if _sender_patched:
        return
    from aiortc.rtcrtpsender import RTCRtpSender

    original = RTCRtpSender._next_encoded_frame

    async def with_level(self: Any, codec: Any) -> Any:
        frame = await original(self, codec)
        level = getattr(self._RTCRtpSender__track, "audio_level", None)
        if frame is not None and frame.audio_level is None and level is not None:
            frame.audio_level = level
        return frame

    RTCRtpSender._next_encoded_frame = with_level  # type: ignore[method-assign]
    _sender_patched = True


async def _admitted(sock: MeetingSocket, timeout: float) -> dict[str, Any]:
    frame = await sock.expect("admitted", "denied", "error", timeout=timeout)
    if frame["type"] != "admitted":
        raise RuntimeError(f"not admitted: {frame.get('type')} {frame.get('code', '')}")
    return frame


class SyntheticPublisher:
    """Publishes a clip; like a person in the meeting it also hears the others: meetkit puts their audio
    in its subscription, answered by ``inbox`` (a ``Subscription``, counted, not decoded)."""

    def __init__(self, sock: MeetingSocket, pc: Any, tracks: list[PacketTrack], feed: int, joined_in: float,
                 participant_id: str, inbox: Subscription) -> None:
        self.sock, self.pc, self.tracks, self.feed, self.inbox = sock, pc, tracks, feed, inbox
        self.joined_in = joined_in  # s from opening the socket to the publisher connection up
        self.participant_id = participant_id

    @classmethod
    async def join(cls, base_url: str, code: str, name: str, *, size: str = "320x180", video: bool = True,
                   host_token: str | None = None, validate: bool = False, timeout: float = 30.0) -> SyntheticPublisher:
        from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
        from aiortc.rtcrtpsender import RTCRtpSender

        _patch_sender()
        media = clip(size)
        t0 = time.monotonic()
        hello: dict[str, Any] = {"type": "hello", "v": 1, "name": name, "mic": True, "camera": video}
        if host_token is not None:
            hello["host_token"] = host_token
        sock = await MeetingSocket.open(base_url, code, hello, validate)
        inbox = Subscription(sock)
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        try:
            await _admitted(sock, timeout)
            tracks = [PacketTrack(media, "audio")] + ([PacketTrack(media, "video")] if video else [])
            for track in tracks:
                pc.addTrack(track)
            for transceiver in pc.getTransceivers():
                if transceiver.kind == "video":  # the packets are VP8: never let H.264 be chosen
                    caps = RTCRtpSender.getCapabilities("video").codecs
                    transceiver.setCodecPreferences([c for c in caps if c.mimeType == "video/VP8"])
            await pc.setLocalDescription(await pc.createOffer())
            await sock.send({"type": "media.publish", "kind": "camera", "sdp": pc.localDescription.sdp})
            answer = await sock.expect("media.answer", "media.error", timeout=timeout)
            if answer["type"] != "media.answer":
                raise RuntimeError(f"media.publish refused: {answer.get('code')}")
            await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
            async with asyncio.timeout(timeout):
                while pc.connectionState != "connected":
                    if pc.connectionState == "failed":
                        raise RuntimeError("the publisher connection failed")
                    await asyncio.sleep(0.02)
        except BaseException:
            await inbox.close()
            await pc.close()
            await sock.close()
            raise
        sock.queueing = False
        return cls(sock, pc, tracks, int(answer["feed"]), time.monotonic() - t0, sock.participant_id, inbox)

    def talk(self, talking: bool) -> None:
        for track in self.tracks:
            track.talking = talking

    async def leave(self) -> None:
        with contextlib.suppress(Exception):
            await self.sock.send({"type": "leave"})
        await self.inbox.close()
        await asyncio.wait_for(self.pc.close(), 10)
        await self.sock.close()


class Subscription:
    """A participant's one subscriber connection: answers every ``media.offer`` in order, follows the
    streams map, counts what arrives per stream, never decodes."""

    def __init__(self, sock: MeetingSocket) -> None:
        self.sock = sock
        self.pc: Any = None
        self.streams: dict[str, dict[str, Any]] = {}  # mid -> the Stream meetkit described
        self.counts: dict[str, receiving.StreamCount] = {}  # mid -> what arrived
        self.opened_at = time.monotonic()
        self.offers = 0
        self.last_offer = ""
        self.errors: list[dict[str, Any]] = []
        self._work: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._worker = asyncio.create_task(self._negotiate())
        sock.on_frame.append(self._on_frame)

    def _on_frame(self, frame: dict[str, Any]) -> None:
        if frame["type"] == "media.offer":
            self._work.put_nowait(frame)
        elif frame["type"] == "media.streams":
            self.streams.update({s["mid"]: s for s in frame["streams"]})
        elif frame["type"] == "media.error":
            self.errors.append(frame)

    async def _negotiate(self) -> None:
        """One offer at a time, in order (meetkit keeps one outstanding per participant)."""
        from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection, RTCSessionDescription

        while True:
            offer = await self._work.get()
            self.last_offer = str(offer["sdp"])
            try:
                if self.pc is None:
                    # max-bundle: every m-line on one transport, as Janus sends them. The offers
                    # meetkit relays carry no a=group:BUNDLE line, and aiortc's default (balanced)
                    # would then give the second video m-line a transport Janus never uses.
                    config = RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
                    self.pc = RTCPeerConnection(config)
                await self.pc.setRemoteDescription(RTCSessionDescription(offer["sdp"], "offer"))
                self.streams = {s["mid"]: s for s in offer.get("streams", [])}
                for transceiver in self.pc.getTransceivers():
                    if transceiver.mid is not None:
                        self.counts[transceiver.mid] = receiving.watch(transceiver.receiver)
                await self.pc.setLocalDescription(await self.pc.createAnswer())
                await self.sock.send({"type": "media.answer", "sdp": self.pc.localDescription.sdp,
                                     "offer": offer.get("offer")})
                self.offers += 1
            except Exception as exc:  # a bad offer is a finding, not a crash of the load generator
                self.errors.append({"type": "local", "error": f"{type(exc).__name__}: {exc}"})

    def heard(self, within: float = 2.0) -> int:
        """Audio streams with a packet in the last ``within`` seconds."""
        now = time.monotonic()
        return sum(1 for mid, c in self.counts.items() if c.kind == "audio" and c.last_at is not None
                   and now - c.last_at <= within and self.streams.get(mid, {}).get("type", "audio") == "audio")

    def first_video_after_open(self) -> float | None:
        firsts = [c.first_at for c in self.counts.values() if c.kind == "video" and c.first_at is not None]
        return min(firsts) - self.opened_at if firsts else None

    async def stats(self) -> dict[str, int]:
        """Packets received and lost over every inbound stream (aiortc's RTCP statistics)."""
        out = {"received": 0, "lost": 0}
        if self.pc is None:
            return out
        report = await self.pc.getStats()
        for s in report.values():
            if s.type == "inbound-rtp":
                out["received"] += s.packetsReceived
                out["lost"] += max(0, s.packetsLost)
        return out

    async def close(self) -> None:
        self._worker.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._worker
        if self.pc is not None:
            await asyncio.wait_for(self.pc.close(), 10)


class SyntheticReceiver(Subscription):
    """Receive-only: mic and camera off, one subscriber connection (``Subscription``)."""

    @classmethod
    async def join(cls, base_url: str, code: str, name: str, *, validate: bool = False,
                   timeout: float = 30.0) -> SyntheticReceiver:
        hello = {"type": "hello", "v": 1, "name": name, "mic": False, "camera": False}
        sock = await MeetingSocket.open(base_url, code, hello, validate)
        receiver = cls(sock)
        try:
            await _admitted(sock, timeout)
        except BaseException:
            await receiver.leave()
            raise
        sock.queueing = False
        return receiver

    async def view(self, feeds: list[int] | None = None, width: int = 320, height: int = 180,
                   low_bandwidth: bool = False) -> None:
        """Show these camera feeds (default: every one the socket knows) as tiles of this size."""
        shown = sorted(self.sock.feeds.values()) if feeds is None else feeds
        await self.sock.send({"type": "media.view", "low_bandwidth": low_bandwidth,
                              "tiles": [{"feed": f, "width": width, "height": height} for f in shown[:64]]})

    async def leave(self) -> None:
        await self.close()
        with contextlib.suppress(Exception):
            await self.sock.send({"type": "leave"})
        await self.sock.close()
