"""What live captions cost on this machine: CPU per speaker-minute and caption latency, 1 and 4 speakers.

    .venv/bin/python bench/captions.py [--seconds 60] [--speakers 1,4] [--engine pocketsphinx]

Each speaker is meetkit's server-side path from the RTP forward on: a known sentence (espeak-ng, as the
e2e test speaks it) is Opus-encoded up front into RTP packets, which are sent to a ``SpeakerAudio``
on 127.0.0.1 every 20 ms, as Janus forwards a speaker; it decodes them (PyAV) into the engine's stream.

Printed, for each number of speakers:
- CPU: CPU seconds of this process and its pocketsphinx workers (decoding and recognition; the packets
  were made before the clock started) per minute of one speaker's audio;
- latency: from the end of an utterance in the audio (when its last packet left) to its final caption
  coming out of the engine (p50 / p90 / max). A page shows it a socket hop later (a few ms on loopback);
- the event loop's worst lag meanwhile (every meeting of the node shares that loop), and peak memory.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import socket
import statistics
import struct
import sys
import tempfile
from fractions import Fraction
from pathlib import Path

import av

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.captions.speech import SILENCE, missing_tools, say

from meetkit.captions.audio import SpeakerAudio
from meetkit.captions.engine import BYTES_PER_SECOND, EngineFailure, Hypothesis
from meetkit.captions.pocketsphinx_engine import PocketsphinxEngine

PACKET_MS = 20
PT = 111


def speech(seconds: float, folder: Path) -> bytes:
    """Sentences with pauses, repeated to ``seconds`` of 16 kHz mono s16le."""
    one = (say("Hello everyone, this is a test of the captions.", folder, "warm") + SILENCE
           + say("please meet me tomorrow morning at the station", folder, "sentence") + SILENCE)
    out = b""
    while len(out) < seconds * BYTES_PER_SECOND:
        out += one
    return out[: int(seconds * BYTES_PER_SECOND) // 2 * 2]


def rtp_packets(pcm: bytes, ssrc: int) -> list[bytes]:
    """The audio as a browser's Opus (48 kHz, 20 ms packets) in RTP, as Janus forwards it."""
    encoder = av.CodecContext.create("libopus", "w")
    encoder.sample_rate = 48000
    encoder.layout = "mono"
    encoder.format = "s16"
    encoder.time_base = Fraction(1, 48000)
    up = av.AudioResampler(format="s16", layout="mono", rate=48000)
    payloads: list[bytes] = []
    fifo = av.AudioFifo()
    for at in range(0, len(pcm), BYTES_PER_SECOND):
        piece = pcm[at:at + BYTES_PER_SECOND]
        frame = av.AudioFrame(format="s16", layout="mono", samples=len(piece) // 2)
        frame.planes[0].update(piece)
        frame.sample_rate = 16000
        for f in up.resample(frame):
            f.pts = None
            fifo.write(f)
    samples = 48000 * PACKET_MS // 1000
    pts = 0
    while fifo.samples >= samples:
        chunk = fifo.read(samples)
        chunk.pts = pts
        pts += samples
        payloads += [bytes(p) for p in encoder.encode(chunk)]
    payloads += [bytes(p) for p in encoder.encode(None)]
    return [struct.pack("!BBHII", 0x80, PT, i & 0xFFFF, (i * samples) & 0xFFFFFFFF, ssrc) + payload
            for i, payload in enumerate(payloads)]


def _cpu() -> float:
    """CPU seconds of this process and of its finished children (the pocketsphinx workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


async def loop_lag(stop: asyncio.Event, lags: list[float]) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        before = loop.time()
        await asyncio.sleep(0.01)
        lags.append(loop.time() - before - 0.01)


async def one_run(packets: list[list[bytes]]) -> dict[str, float]:
    loop = asyncio.get_running_loop()
    engine = PocketsphinxEngine()
    latencies: list[float] = []
    failures: list[EngineFailure] = []
    started: list[float] = [0.0] * len(packets)
    finals = [0] * len(packets)
    streams, audios = [], []
    for i in range(len(packets)):
        def heard(h: Hypothesis, i: int = i) -> None:
            if h.final:
                finals[i] += 1
                latencies.append(loop.time() - (started[i] + h.end))
        stream = engine.open(heard, failures.append)
        audio = await SpeakerAudio.open(lambda pcm, _at, s=stream: s.feed(pcm))
        streams.append(stream)
        audios.append(audio)
    lags: list[float] = []
    stop = asyncio.Event()
    lagging = asyncio.create_task(loop_lag(stop, lags))
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    cpu0, wall0 = _cpu(), loop.time()
    for i in range(len(packets)):
        started[i] = wall0
    step = PACKET_MS / 1000
    for n in range(max(len(p) for p in packets)):
        for i, speaker in enumerate(packets):
            if n < len(speaker):
                sock.sendto(speaker[n], ("127.0.0.1", audios[i].port))
        delay = wall0 + (n + 1) * step - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
    for audio in audios:
        audio.close()
    await asyncio.gather(*(s.close() for s in streams))
    stop.set()
    await lagging
    await engine.close()  # the workers exit: their CPU time is counted in RUSAGE_CHILDREN from now
    cpu = _cpu() - cpu0
    sock.close()
    audio_minutes = sum(len(p) for p in packets) * step / 60
    if failures:
        raise SystemExit(f"the engine failed: {failures}")
    latencies.sort()
    return {"cpu_per_speaker_minute": cpu / audio_minutes, "finals": sum(finals),
            "p50": statistics.median(latencies) if latencies else float("nan"),
            "p90": latencies[int(0.9 * (len(latencies) - 1))] if latencies else float("nan"),
            "max": latencies[-1] if latencies else float("nan"), "lag_max": max(lags, default=0.0),
            "lag_p99": sorted(lags)[int(0.99 * (len(lags) - 1))] if lags else 0.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="audio per speaker")
    parser.add_argument("--speakers", default="1,4")
    args = parser.parse_args()
    reason = missing_tools()
    if reason is not None:
        raise SystemExit(reason)
    with tempfile.TemporaryDirectory() as folder:
        pcm = speech(args.seconds, Path(folder))
    print(f"captions (pocketsphinx), {args.seconds:.0f} s of speech per speaker, {os.cpu_count()} cores")
    print(f"{'speakers':>8} {'CPU s/speaker-min':>18} {'finals':>7} {'latency p50':>12} {'p90':>7} {'max':>7} "
          f"{'loop lag p99':>13} {'max':>7}")
    for n in (int(x) for x in args.speakers.split(",")):
        # Each speaker starts at another point of the speech, as people do not talk in unison.
        packets = []
        for i in range(n):
            offset = (i * len(pcm) // max(n, 1)) // 2 * 2
            packets.append(rtp_packets(pcm[offset:] + pcm[:offset], random.getrandbits(32)))
        r = asyncio.run(one_run(packets))
        print(f"{n:>8} {r['cpu_per_speaker_minute']:>18.1f} {int(r['finals']):>7} {r['p50']:>11.2f}s "
              f"{r['p90']:>6.2f}s {r['max']:>6.2f}s {r['lag_p99'] * 1000:>11.1f}ms {r['lag_max'] * 1000:>5.0f}ms")
    print(f"peak memory: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB here, "
          f"{resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024:.0f} MB the largest pocketsphinx worker")


if __name__ == "__main__":
    main()
