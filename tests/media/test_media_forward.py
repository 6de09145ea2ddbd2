"""A speaker's audio out of Janus for captions: the videoroom forwards an aiortc publisher's Opus as plain
RTP to a :class:`SpeakerAudio` on loopback, which hands out 16 kHz mono PCM in 20 ms chunks timed by the
RTP timestamps. Then, without Janus, what SpeakerAudio does with bad datagrams, gaps, pauses and a new
SSRC. Prints the measured cost of decoding (on the event loop)."""

from __future__ import annotations

import array
import asyncio
import fractions
import itertools
import math
import os
import socket
import struct
import time
from collections.abc import Callable
from typing import Any

import pytest

from meetkit.captions.audio import CHUNK_BYTES, MAX_SILENCE_S, SpeakerAudio, parse_rtp
from meetkit.media import JanusError, MediaServer
from meetkit.media.videoroom import NO_SUCH_FEED

from .test_media_janus import janus_settings, media, supervisor  # noqa: F401  (fixtures: a real Janus)
from .test_media_meeting import loopback_ice  # noqa: F401  (fixture)

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="the loopback media link needs root (CI runs as root)")


class Pcm:
    """What a SpeakerAudio handed out, with when it arrived."""

    def __init__(self) -> None:
        self.chunks: list[tuple[bytes, float, float]] = []  # (pcm, at, time.monotonic())

    def __call__(self, pcm: bytes, at: float) -> None:
        assert len(pcm) == CHUNK_BYTES
        self.chunks.append((pcm, at, time.monotonic()))

    def samples(self, since: float = 0.0) -> array.array[int]:
        return array.array("h", b"".join(pcm for pcm, at, _ in self.chunks if at >= since))


def zero_crossings_per_s(samples: array.array[int]) -> float:
    crossings = sum(1 for a, b in itertools.pairwise(samples) if (a < 0) != (b < 0))
    return crossings / (len(samples) / 16000)


def rms(samples: array.array[int]) -> float:
    return math.sqrt(sum(x * x for x in samples) / max(1, len(samples)))


async def until(predicate: Callable[[], bool], seconds: float, what: Callable[[], object]) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds}s: {what()}")
        await asyncio.sleep(0.02)


class TimedAudio(SpeakerAudio):
    """Measures what handling the datagrams costs the event loop, in CPU time of its thread (aiortc's
    encoder threads and other processes on the machine would inflate a wall-clock figure)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.spent: list[float] = []

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        started = time.thread_time()
        super().datagram_received(data, addr)
        self.spent.append(time.thread_time() - started)


# -- through Janus ------------------------------------------------------------------------------------


@needs_root
async def test_a_publishers_audio_forwarded_to_speaker_audio(media: MediaServer, loopback_ice: None) -> None:  # noqa: F811
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

    from .peers import Voice

    room, feed = 7401, 301
    await media.create_room(room, publishers=4)
    for token in ("tok-ann", "tok-ear"):
        await media.allow(room, token)
    ann = await media.open_participant(room, "tok-ann")
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    audios: list[SpeakerAudio] = []
    try:
        voice = Voice()
        voice.speak()  # a 440 Hz tone from the start
        pc.addTrack(voice)
        await pc.setLocalDescription(await pc.createOffer())
        answer = await ann.publish("camera", feed, "Ann", pc.localDescription.sdp)
        await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        await ann.wait_live("camera", 15)

        # The feed's streams as Janus tells the room (what signalling/speakers.py learns): audio is mid 0.
        ear = await media.open_participant(room, "tok-ear")
        streams = next(p["streams"] for p in ear.publishers_at_join if p["id"] == feed)
        await ear.close()
        mid = next(s["mid"] for s in streams if s["type"] == "audio")
        assert mid == "0", streams

        first_pcm = Pcm()
        first = await TimedAudio.open(first_pcm)
        audios.append(first)
        stream_id = await media.forward_audio(room, feed, mid, first.port)
        await until(lambda: len(first_pcm.chunks) > 0, 10, lambda: "forwarded audio")
        wall_start, at_start = first_pcm.chunks[0][2], first_pcm.chunks[0][1]
        await asyncio.sleep(3.0)
        wall_end, at_end = first_pcm.chunks[-1][2], first_pcm.chunks[-1][1]
        wall, heard = wall_end - wall_start, at_end - at_start
        assert 0.7 * wall <= heard <= 1.3 * wall, (wall, heard)
        tone = first_pcm.samples(since=at_start + 0.5)  # past the encoder's start-up
        assert rms(tone) > 1000, rms(tone)  # the tone's RMS is 8000/√2; Opus keeps most of it
        assert 440 * 2 * 0.9 <= zero_crossings_per_s(tone) <= 440 * 2 * 1.1, zero_crossings_per_s(tone)
        counts = first.counts
        assert counts.decoded > 100 and counts.lost == 0 and counts.foreign == 0 and counts.malformed == 0, counts
        assert counts.undecodable == 0 and counts.ssrc_changes == 0, counts
        steady = sorted(first.spent[1:])
        per_packet = sum(steady) / len(steady)
        print(f"\nhandling a 20 ms packet (parse, decode, resample, chunk), CPU: first {first.spent[0] * 1e3:.1f} ms "
              f"(the decoder is made), then mean {per_packet * 1e6:.0f} µs, median {steady[len(steady) // 2] * 1e6:.0f}"
              f" µs; 50 packets/s = {per_packet * 50 * 100:.2f} % of a core per speaker")

        # Stopped: no more packets (those under way have arrived after 0.3 s).
        await media.stop_forward(room, feed, stream_id)
        await asyncio.sleep(0.3)
        decoded = first.counts.decoded
        await asyncio.sleep(0.5)
        assert first.counts.decoded == decoded

        # A second forward, to another port; the first forward stopped twice is fine.
        second_pcm = Pcm()
        second = await SpeakerAudio.open(second_pcm)
        audios.append(second)
        assert second.port != first.port
        again = await media.forward_audio(room, feed, mid, second.port)
        await until(lambda: len(second_pcm.chunks) > 10, 10, lambda: "audio of the second forward")
        assert first.counts.decoded == decoded
        await media.stop_forward(room, feed, stream_id)

        # No such stream, no such feed: refused (Janus answers an unknown mid with no forwarder).
        for bad_feed, bad_mid in ((feed, "7"), (999_999, "0")):
            with pytest.raises(JanusError) as refused:
                await media.forward_audio(room, bad_feed, bad_mid, second.port)
            assert refused.value.code == NO_SUCH_FEED, refused.value

        # The feed leaves: its forwarder went with it, and stopping it is not an error.
        await ann.close()
        await media.stop_forward(room, feed, again)
        await media.destroy_room(room)
        await media.stop_forward(room, feed, again)
    finally:
        for audio in audios:
            audio.close()
            audio.close()  # idempotent
        await pc.close()
        await ann.close()
        await media.destroy_room(room)


# -- without Janus: datagrams made here -----------------------------------------------------------------


def opus_packets(count: int, hz: float = 440.0) -> list[bytes]:
    """``count`` 20 ms Opus packets of a tone, as a browser would send them."""
    import av

    encoder = av.CodecContext.create("libopus", "w")
    encoder.sample_rate, encoder.layout, encoder.format = 48000, "mono", "s16"
    encoder.bit_rate, encoder.time_base = 32000, fractions.Fraction(1, 48000)
    encoder.open()
    out: list[bytes] = []
    n = 0
    while len(out) < count:
        samples = array.array("h", (int(8000 * math.sin(2 * math.pi * hz * (n + i) / 48000)) for i in range(960)))
        frame = av.AudioFrame(format="s16", layout="mono", samples=960)
        frame.planes[0].update(samples.tobytes())
        frame.sample_rate, frame.pts = 48000, n
        n += 960
        out += [bytes(p) for p in encoder.encode(frame)]
    return out[:count]


def rtp(seq: int, ts: int, payload: bytes, *, ssrc: int = 0x1234, pt: int = 111, version: int = 2,
        csrcs: int = 0, extension: bytes | None = None, padding: int = 0) -> bytes:
    first = version << 6 | (0x20 if padding else 0) | (0x10 if extension is not None else 0) | csrcs
    out = struct.pack("!BBHII", first, 0x80 | pt, seq & 0xFFFF, ts & 0xFFFF_FFFF, ssrc) + bytes(4 * csrcs)
    if extension is not None:
        out += struct.pack("!HH", 0xBEDE, len(extension) // 4) + extension
    return out + payload + (bytes(padding - 1) + bytes([padding]) if padding else b"")


JANUS = ("127.0.0.1", 40000)


def test_rtp_headers_are_parsed() -> None:
    payload = b"\x78opus"
    packet = parse_rtp(rtp(7, 960, payload, csrcs=2, extension=b"\x10\xff\x00\x00", padding=3))
    assert packet is not None
    assert (packet.sequence, packet.timestamp, packet.ssrc, packet.payload_type, packet.payload) == (
        7, 960, 0x1234, 111, payload)
    sender_report = bytes([0x80, 200]) + rtp(1, 0, payload)[2:]
    zero_padding = bytes([0xA0]) + rtp(1, 0, payload)[1:] + b"\x00"
    long_padding = bytes([0xA0]) + rtp(1, 0, payload)[1:] + b"\x14"  # 20 bytes of padding in 18
    for bad in (b"", b"\x80\x6f\x00", rtp(1, 0, payload, version=1), rtp(1, 0, b""), sender_report,
                rtp(1, 0, payload, extension=b"\x00" * 4)[:14],  # the extension cut off
                rtp(1, 0, b"", padding=2), zero_padding, long_padding):
        assert parse_rtp(bad) is None, bad


async def test_gaps_pauses_bad_datagrams_and_a_new_ssrc() -> None:
    pcm = Pcm()
    audio = SpeakerAudio(pcm)
    packets = opus_packets(40)
    feed = audio.datagram_received

    for seq in range(10):  # 200 ms
        feed(rtp(seq, seq * 960, packets[seq]), JANUS)
    assert audio.counts.decoded == 10 and 0.16 <= audio.at <= 0.2, (audio.counts, audio.at)
    # Bad ones: counted, skipped, nothing raised.
    for bad in (b"\x80", rtp(10, 0, packets[10], version=1), rtp(10, 9600, b"\xff\xff\xff"),
                bytes(2000), rtp(10, 9600, packets[10], pt=101)):
        feed(bad, JANUS)
    feed(rtp(10, 9600, packets[10]), ("127.0.0.2", 40000))
    feed(rtp(9, 9 * 960, packets[9]), JANUS)  # a duplicate
    c = audio.counts
    assert (c.malformed, c.undecodable, c.foreign, c.late, c.decoded) == (3, 1, 2, 1, 10), c

    # Packets 11-14 lost, 10 undecodable: their 100 ms come as silence, ``at`` stays true.
    for seq in range(15, 25):
        feed(rtp(seq, seq * 960, packets[seq]), JANUS)
    assert audio.counts.lost == 4, audio.counts
    assert 0.48 <= audio.at <= 0.5, audio.at  # 25 packets of 20 ms, less the resampler's delay
    gap = pcm.samples(since=0.22)[: 16 * 60]
    assert rms(gap) < 1 and rms(pcm.samples(since=0.32)) > 1000, (rms(gap), rms(pcm.samples(since=0.32)))
    ats = [at for _, at, _ in pcm.chunks]
    assert ats == [i * 0.02 for i in range(len(ats))]

    # A 3 s pause in the timestamps (DTX): 1 s of silence, then ``at`` jumps to where the audio goes on.
    feed(rtp(25, 25 * 960 + 3 * 48000, packets[25]), JANUS)
    assert audio.counts.time_jumps == 1
    jumped = [(a, b) for (_, a, _), (_, b, _) in itertools.pairwise(pcm.chunks) if b - a > 0.021]
    assert len(jumped) == 1 and 0.49 + MAX_SILENCE_S <= jumped[0][0] + 0.02 <= 0.53 + MAX_SILENCE_S, jumped
    assert 3.47 <= audio.at <= 3.52, audio.at

    # The publisher renegotiated: a new SSRC and timestamps; a fresh decoder, the time goes on.
    before = audio.at
    for seq in range(26, 36):
        feed(rtp(seq + 5000, seq * 960 + 777, packets[seq], ssrc=0x9999), JANUS)
    assert audio.counts.ssrc_changes == 1 and audio.counts.decoded == 10 + 10 + 1 + 10, audio.counts
    assert before + 0.18 <= audio.at <= before + 0.22, (before, audio.at)

    # A failing consumer is counted; the audio goes on.
    def broken(pcm: bytes, at: float) -> None:
        raise RuntimeError("consumer bug")

    audio._on_pcm = broken
    for seq in range(36, 40):
        feed(rtp(seq + 5000, seq * 960 + 777, packets[seq], ssrc=0x9999), JANUS)
    assert audio.counts.callback_errors >= 3 and audio.counts.decoded == 35


async def test_the_socket_takes_only_the_sender_and_a_bounded_rate() -> None:
    pcm = Pcm()
    audio = await SpeakerAudio.open(pcm)
    packets = opus_packets(5)
    try:
        assert audio.port > 0
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as janus, \
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as other:
            janus.bind(("127.0.0.1", 0))
            other.bind(("127.0.0.2", 0))  # loopback, but not the sender
            for seq in range(5):
                other.sendto(rtp(seq, seq * 960, packets[seq]), ("127.0.0.1", audio.port))
                janus.sendto(rtp(seq, seq * 960, packets[seq]), ("127.0.0.1", audio.port))
            await until(lambda: audio.counts.decoded + audio.counts.foreign == 10, 5, lambda: audio.counts)
            assert audio.counts.decoded == 5 and audio.counts.foreign == 5
            # Another process on this machine, once the forward has begun: not the forwarder's port.
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as local:
                local.bind(("127.0.0.1", 0))
                local.sendto(rtp(5, 5 * 960, packets[4]), ("127.0.0.1", audio.port))
                await until(lambda: audio.counts.foreign == 6, 5, lambda: audio.counts)
            assert audio.counts.decoded == 5
            # A flood: beyond 200 datagrams a second the rest is dropped unread. (Sent in batches the
            # kernel's receive buffer holds, within the second.)
            for batch in range(6):
                for _ in range(50):
                    janus.sendto(b"\x80", ("127.0.0.1", audio.port))
                await until(lambda b=batch: audio.counts.malformed + audio.counts.over_rate == 50 * (b + 1),  # type: ignore[misc]
                            1, lambda: audio.counts)
            assert audio.counts.over_rate >= 100, audio.counts
    finally:
        audio.close()
        audio.close()
    assert len(pcm.chunks) > 0
