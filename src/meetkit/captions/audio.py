"""One speaker's audio as Janus forwards it (videoroom ``rtp_forward``, :meth:`MediaServer.forward_audio
<meetkit.media.videoroom.MediaServer.forward_audio>`): plain RTP carrying Opus, on a UDP socket of its
own on loopback, turned into what speech engines eat: 16 kHz mono s16le PCM in 20 ms chunks (640 bytes).

Each chunk comes with ``at``, seconds of audio since the speaker's first packet, counted from the RTP
timestamps (48 kHz for Opus), not from when packets happened to arrive. Lost packets and pauses in the
timestamps (DTX) become silence, so ``at`` stays true and an engine hears the pause that ends an
utterance; of a pause longer than :data:`MAX_SILENCE_S` only that much silence is sent, and ``at`` jumps
over the rest. A new SSRC (the publisher renegotiated) starts a fresh decoder, placed after the old
stream by the wall-clock time between the two.

Nothing is reordered: the packets come over loopback from Janus. Anything odd (not RTP, not from the
sender, too large, too many, undecodable) is counted in :attr:`SpeakerAudio.counts` and skipped; the
protocol never raises and never logs what it received.

Decoding runs on the event loop, no thread (handing each packet to one would cost about as much as
decoding it): a 20 ms packet (parse, Opus decode, resample, chunk) costs 30-40 µs of CPU alone, ≈ 150 µs
in tests/media/test_media_forward.py (which prints it: aiortc's encoder and Janus on the same two busy
cores), so a speaker (50 packets/s) takes 0.2-0.8 % of one core. A stream's first packet costs ≈ 1-2 ms
(the decoder is made).
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Self, cast

import av

log = logging.getLogger("meetkit.captions")

PcmCallback = Callable[[bytes, float], None]
"""``on_pcm(pcm, at)``: 640 bytes (20 ms of 16 kHz mono s16le) starting ``at`` seconds into the audio."""

RATE = 16_000  # what speech engines take
CHUNK = 320  # samples: 20 ms
CHUNK_BYTES = 2 * CHUNK
MAX_SILENCE_S = 1.0  # enough for an engine to end an utterance; longer pauses are skipped in ``at``
MAX_DATAGRAM = 1500  # an Opus packet is at most 1275 bytes, plus its RTP header
MAX_PACKETS_PER_S = 200  # a speaker sends 50 (20 ms) or 100 (10 ms frames)
_RTP_CLOCK_PER_SAMPLE = 3  # 48 kHz RTP clock / 16 kHz samples
_FILL_FROM = CHUNK // 2  # a timestamp ahead of the audio by more than this (10 ms) is a gap to fill
_REBASE_FROM = 5 * CHUNK  # audio ahead of the timestamps by more than this (100 ms): a new time base


@dataclass(frozen=True)
class RtpPacket:
    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes


def parse_rtp(data: bytes) -> RtpPacket | None:
    """An RTP packet (RFC 3550: CSRCs, header extension and padding skipped), or None if ``data`` is not
    one or carries no payload."""
    if len(data) < 12 or data[0] >> 6 != 2:
        return None
    first, second = data[0], data[1]
    if 72 <= second & 0x7F <= 76:
        return None  # RTCP (sender/receiver reports...), should it be multiplexed here
    offset = 12 + 4 * (first & 0x0F)
    if first & 0x10:
        if len(data) < offset + 4:
            return None
        offset += 4 + 4 * int.from_bytes(data[offset + 2:offset + 4], "big")
    end = len(data)
    if first & 0x20:
        if data[-1] == 0:
            return None  # the padding count includes itself: 0 is impossible
        end -= data[-1]
    if offset >= end:
        return None  # also: an empty payload would put the decoder in draining mode for good
    sequence, timestamp, ssrc = struct.unpack_from("!HII", data, 2)
    return RtpPacket(second & 0x7F, sequence, timestamp, ssrc, data[offset:end])


class OpusToPcm:
    """Opus packets (RTP ``opus/48000/2``) to 16 kHz mono s16le. Raises ``av.FFmpegError`` on a bad one."""

    def __init__(self) -> None:
        self._codec = av.CodecContext.create("opus", "r")
        self._codec.sample_rate = 48_000
        self._codec.layout = "stereo"  # what the SDP says; a mono stream decodes to two equal channels
        self._resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)

    def decode(self, payload: bytes) -> bytes:
        out = bytearray()
        for frame in self._codec.decode(av.Packet(payload)):
            frame.pts = None  # time is kept from the RTP timestamps, not the decoder's
            for resampled in self._resampler.resample(frame):
                out += bytes(resampled.planes[0])[: 2 * resampled.samples]
        return bytes(out)


@dataclass
class AudioCounts:
    """What :class:`SpeakerAudio` received, by fate."""

    decoded: int = 0
    lost: int = 0  # sequence numbers never seen
    late: int = 0  # a sequence number seen already, or behind the last one
    malformed: int = 0  # not RTP, no payload, too large
    foreign: int = 0  # from another address than the sender, or another payload type
    over_rate: int = 0
    undecodable: int = 0  # the decoder refused it (or handling it failed: logged once)
    ssrc_changes: int = 0
    time_jumps: int = 0  # pauses longer than MAX_SILENCE_S, or timestamps that went back
    callback_errors: int = 0


class SpeakerAudio(asyncio.DatagramProtocol):
    """Receives one forwarded audio stream on its own UDP port and calls ``on_pcm`` for every 20 ms.

    Made by :meth:`open`; :attr:`port` is where Janus should send; :meth:`close` when done (idempotent).
    """

    def __init__(self, on_pcm: PcmCallback, *, sender: str = "127.0.0.1") -> None:
        self._on_pcm = on_pcm
        self._sender = sender
        self.counts = AudioCounts()
        self._transport: asyncio.DatagramTransport | None = None
        self._port = 0
        self._closed = False
        self._decoder: OpusToPcm | None = None
        self._ssrc: int | None = None
        self._payload_type = 0
        self._sequence = 0
        self._timestamp = 0  # the last packet's, as sent
        self._rtp_since_base = 0  # RTP clock ticks from the base packet to the last one, unwrapped
        self._base = 0  # 16 kHz samples of audio before the base packet of the current time base
        self._emitted = 0  # samples handed to on_pcm (and skipped over by time jumps)
        self._pending = bytearray()  # less than a chunk, waiting for more
        self._arrived = 0.0  # loop time of the last packet decoded
        self._window = (0.0, 0)  # (start, packets) of the current one-second rate window
        self._reported = False  # a failure in handling packets was logged
        self._peer_port: int | None = None  # the sender's port, from its first good packet

    @classmethod
    async def open(cls, on_pcm: PcmCallback, *, host: str = "127.0.0.1", sender: str | None = None) -> Self:
        """Bind a UDP socket to ``host`` on a free port; only datagrams from ``sender`` (default: ``host``)
        are taken."""
        audio = cls(on_pcm, sender=sender or host)
        await asyncio.get_running_loop().create_datagram_endpoint(lambda: audio, local_addr=(host, 0))
        return audio

    @property
    def port(self) -> int:
        return self._port

    @property
    def at(self) -> float:
        """Seconds of audio handed out so far (where the next chunk starts)."""
        return self._emitted / RATE

    def close(self) -> None:
        self._closed = True
        if self._transport is not None:
            self._transport.close()

    # -- asyncio.DatagramProtocol -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)  # the selector's is not a subclass
        self._port = int(transport.get_extra_info("sockname")[1])

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True

    def error_received(self, exc: Exception) -> None:
        log.debug("speaker audio socket on port %s: %s", self._port, exc)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        if self._closed:
            return
        if addr[0] != self._sender or (self._peer_port is not None and addr[1] != self._peer_port):
            self.counts.foreign += 1  # (after the first packet, only its port: Janus's forwarder socket)
            return
        now = asyncio.get_running_loop().time()
        if not self._within_rate(now):
            self.counts.over_rate += 1
            return
        packet = parse_rtp(data) if len(data) <= MAX_DATAGRAM else None
        if packet is None:
            self.counts.malformed += 1
            return
        if self._peer_port is None:
            self._peer_port = int(addr[1])
        try:
            self._received(packet, now)
        except Exception:  # a bug here must not kill the socket; the counts tell
            self.counts.undecodable += 1
            if not self._reported:  # once: it would repeat 50 times a second
                self._reported = True
                log.exception("speaker audio on port %s: a packet could not be handled", self._port)

    # -- packets to PCM -----------------------------------------------------------------------------

    def _within_rate(self, now: float) -> bool:
        start, packets = self._window
        if now - start >= 1.0:
            start, packets = now, 0
        self._window = (start, packets + 1)
        return packets < MAX_PACKETS_PER_S

    def _received(self, packet: RtpPacket, now: float) -> None:
        if packet.ssrc != self._ssrc:
            self._new_stream(packet, now)
        elif packet.payload_type != self._payload_type:
            self.counts.foreign += 1  # e.g. telephone-event alongside Opus: not speech
            return
        else:
            step = (packet.sequence - self._sequence) & 0xFFFF
            if step == 0 or step >= 0x8000:
                self.counts.late += 1
                return
            self.counts.lost += step - 1
            ticks = (packet.timestamp - self._timestamp) & 0xFFFF_FFFF
            self._rtp_since_base += ticks - (1 << 32) if ticks >= 1 << 31 else ticks
        self._sequence, self._timestamp = packet.sequence, packet.timestamp
        self._catch_up(self._base + self._rtp_since_base // _RTP_CLOCK_PER_SAMPLE)
        assert self._decoder is not None
        try:
            pcm = self._decoder.decode(packet.payload)
        except av.FFmpegError:
            self.counts.undecodable += 1  # its time is filled with silence by the next packet
            return
        self.counts.decoded += 1
        self._arrived = now
        self._pending += pcm
        self._flush()

    def _new_stream(self, packet: RtpPacket, now: float) -> None:
        """The first packet, or a new SSRC: a fresh decoder, its time base where the audio is now (after
        the wall-clock pause since the old stream's last packet, less the 20 ms that packet lasted)."""
        pause = 0.0
        if self._ssrc is not None:
            self.counts.ssrc_changes += 1
            log.debug("speaker audio on port %s: new SSRC", self._port)
            if self.counts.decoded:
                pause = max(0.0, now - self._arrived - CHUNK / RATE)
        self._ssrc, self._payload_type = packet.ssrc, packet.payload_type
        self._decoder = OpusToPcm()
        self._base = self._written() + int(pause * RATE)
        self._rtp_since_base = 0

    def _written(self) -> int:
        return self._emitted + len(self._pending) // 2

    def _catch_up(self, expected: int) -> None:
        """Make the audio so far end where the packet about to be decoded starts (``expected``, samples)."""
        gap = expected - self._written()
        if gap < -_REBASE_FROM:
            # Timestamps went back (a broken sender): what comes next is placed after what was sent.
            self.counts.time_jumps += 1
            self._base -= gap
            return
        if gap <= _FILL_FROM:
            return
        silence = min(gap, int(MAX_SILENCE_S * RATE))
        if silence < gap:
            # Send the silence up to a whole chunk, then skip the rest of the pause in ``at``.
            silence += -(len(self._pending) // 2 + silence) % CHUNK
            self.counts.time_jumps += 1
        self._pending += bytes(2 * silence)
        self._flush()
        if gap > silence:
            self._emitted += gap - silence

    def _flush(self) -> None:
        whole = len(self._pending) - len(self._pending) % CHUNK_BYTES
        for offset in range(0, whole, CHUNK_BYTES):
            chunk = bytes(self._pending[offset:offset + CHUNK_BYTES])
            at = self._emitted / RATE
            self._emitted += CHUNK
            try:
                self._on_pcm(chunk, at)
            except Exception:
                self.counts.callback_errors += 1
                if self.counts.callback_errors == 1:  # once: it would repeat 50 times a second
                    log.exception("speaker audio on port %s: on_pcm failed", self._port)
        del self._pending[:whole]
