"""Recording speed: how long composing a recorded meeting takes, as a fraction of its length.

    .venv/bin/python bench/recording.py [--seconds 20] [--participants 2,4] [--keep DIR]

For each participant count: a room on a real Janus (JanusSupervisor in a temporary data folder; ICE on
127.0.0.5, the veth made by scripts/media-net.sh, needs root), that many aiortc publishers (each sends
a moving 640x480@30 VP8 test picture, 2 s of ffmpeg's testsrc2 encoded beforehand and played in a
loop, and a tone in Opus), each recorded with MediaParticipant.record() for
--seconds; then
meetkit.recording.compose() of the .mjr files (janus-pp-rec + one ffmpeg run, see
src/meetkit/recording/compose.py). Printed: composition wall time / recording length, the CPU seconds
the subprocesses used, and ffprobe facts of each MP4. Aim: <= 0.25x real time.

Everything stays on 127.0.0.0/8 and every wait is bounded; the temporary folder (recordings, MP4s) is
removed at the end unless --keep is given.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import contextlib
import json
import math
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from meetkit.config import Settings  # noqa: E402
from meetkit.media import JanusSupervisor, MediaServer  # noqa: E402
from meetkit.recording import compose, discover_tracks  # noqa: E402

MEDIA_ADDR = "127.0.0.5"
AIM = 0.25  # composition time / recording length
CLIP_SECONDS = 2


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def make_clip(path: Path, index: int) -> None:
    """A short moving test picture (hue shifted per participant) in VP8, looped by :func:`publisher_tracks`."""
    subprocess.run(
        ["ffmpeg", "-v", "error", "-nostdin", "-y",
         "-f", "lavfi", "-i", f"testsrc2=s=640x480:r=30:d={CLIP_SECONDS},hue=h={index * 70}",
         "-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "700k", "-g", "30",
         "-auto-alt-ref", "0", str(path)],
        check=True, timeout=120,
    )


def publisher_tracks(clip: Path, index: int) -> tuple[Any, Any]:
    """An audio track (a tone) and a video track (the clip's VP8 frames in a loop, steady timestamps).

    The video is encoded beforehand and sent as is (aiortc packetizes an av.Packet without encoding):
    encoding 4 VP8 streams in this process would starve it on a small machine, and the recordings would
    hold less media than the wall time they took.
    """
    import av
    from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack

    with av.open(str(clip)) as container:
        packets = [bytes(packet) for packet in container.demux(video=0) if packet.size]
    period = (20, 16, 32, 10, 40)[index % 5]  # samples at 8 kHz: 400, 500, 250, 800, 200 Hz
    tone = array.array("h", (int(8000 * math.sin(2 * math.pi * i / period)) for i in range(160))).tobytes()

    class Picture(VideoStreamTrack):
        async def recv(self) -> Any:
            pts, time_base = await self.next_timestamp()
            packet = av.Packet(packets[(pts // 3000) % len(packets)])  # 90 kHz clock, 30 fps
            packet.pts, packet.time_base = pts, time_base
            return packet

    class Tone(AudioStreamTrack):
        async def recv(self) -> Any:
            frame: Any = await super().recv()
            frame.planes[0].update(tone)
            return frame

    return Tone(), Picture()


def probe(path: Path) -> dict[str, Any]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-of", "json", "-show_streams", "-show_format", str(path)],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout
    facts: dict[str, Any] = json.loads(out)
    return facts


async def record_meeting(media: MediaServer, room: int, clips: list[Path], seconds: float, rec_dir: Path) -> float:
    """Publish one aiortc peer per clip, record them all for ``seconds``; returns the recorded wall time."""
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

    await media.create_room(room, publishers=len(clips) + 2)
    people = []
    pcs = []
    tracks = []
    try:
        for i, clip in enumerate(clips):
            feed = 1000 + i
            await media.allow(room, f"tok-{feed}")
            person = await media.open_participant(room, f"tok-{feed}")
            people.append(person)
            audio, video = publisher_tracks(clip, i)
            tracks += [audio, video]
            pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
            pcs.append(pc)
            pc.addTrack(audio)
            pc.addTrack(video)
            await pc.setLocalDescription(await pc.createOffer())
            answer = await person.publish("camera", feed, f"p{feed}", pc.localDescription.sdp)
            await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        for person in people:
            await person.wait_live("camera", 20)
        began = time.monotonic()
        for person, feed in zip(people, range(1000, 1000 + len(clips)), strict=True):
            await person.record("camera", f"{rec_dir}/{feed}-camera-1")
        await asyncio.sleep(seconds)
        for person in people:
            await person.record("camera", None)
        return time.monotonic() - began
    finally:
        for pc in pcs:
            await pc.close()
        for track in tracks:
            track.stop()
        for person in people:
            await person.close()
        await media.destroy_room(room)


async def run(args: argparse.Namespace, folder: Path) -> list[dict[str, Any]]:
    import aioice.ice

    # The peers gather candidates on 127.0.0.5 only (never this machine's other addresses), no STUN.
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: [MEDIA_ADDR]

    counts = [int(n) for n in args.participants.split(",")]
    clips = []
    for i in range(max(counts)):
        clip = folder / f"clip{i}.webm"
        make_clip(clip, i)
        clips.append(clip)

    settings = Settings(
        data_dir=folder / "data", janus_ws_port=free_port(), janus_admin_port=None,
        media_rtp_ports="46000-46999", media_ice_interface=MEDIA_ADDR,
        _env_file=None,
    )
    sup = JanusSupervisor(settings)
    await sup.start()
    media = MediaServer(sup.url, admin_key=sup.admin_key, api_secret=None)
    rows = []
    try:
        await media.start()
        for n in counts:
            rec_dir = folder / f"rec-{n}"
            rec_dir.mkdir()
            recorded = await record_meeting(media, 8100 + n, clips[:n], args.seconds, rec_dir)
            tracks = discover_tracks(rec_dir)
            out = folder / f"meeting-{n}.mp4"
            load = os.getloadavg()[0]
            cpu0, t0 = child_cpu(), time.monotonic()
            result = await compose(tracks, out, work_dir=folder / f"work-{n}", time_limit=args.seconds * 5 + 120)
            took = time.monotonic() - t0
            cpu = child_cpu() - cpu0
            facts = probe(out)
            rows.append({
                "participants": n, "recorded": recorded, "tracks": len(tracks), "compose": took, "cpu": cpu,
                "ratio": took / recorded, "result": result, "load": load, "facts": facts, "out": out,
                "mjr_bytes": sum(t.path.stat().st_size for t in tracks),
            })
    finally:
        await media.stop()
        await sup.stop()
    return rows


def report(rows: list[dict[str, Any]]) -> None:
    print(f"machine: {os.cpu_count()} cores; aim: composition <= {AIM:.2f}x the recording's length")
    print("(CPU s / recorded s is the subprocesses' CPU time per second of meeting: it does not depend on what")
    print(" else the machine runs; the load average before each composition says how busy it was.)")
    print(f"{'participants':>12} {'recorded s':>10} {'tracks':>6} {'compose s':>9} {'x real time':>11} "
          f"{'CPU s':>6} {'CPU s/rec s':>11} {'load':>5}")
    for r in rows:
        print(f"{r['participants']:>12} {r['recorded']:>10.1f} {r['tracks']:>6} {r['compose']:>9.2f} "
              f"{r['ratio']:>10.3f}x {r['cpu']:>6.1f} {r['cpu'] / r['recorded']:>11.3f} {r['load']:>5.1f}   "
              f"{'OK' if r['ratio'] <= AIM else 'ABOVE AIM'}")
    for r in rows:
        fmt = r["facts"]["format"]
        streams = ", ".join(
            f"{s['codec_type']} {s['codec_name']}"
            + (f" {s['width']}x{s['height']} {s.get('avg_frame_rate')} {s.get('pix_fmt')}" if s["codec_type"] == "video"
               else f" {s.get('sample_rate')} Hz {s.get('channels')} ch")
            for s in r["facts"]["streams"]
        )
        print(f"  {r['participants']} participants -> {r['out'].name}: {float(fmt['duration']):.2f} s, "
              f"{int(fmt['size']) / 1e6:.1f} MB, {int(fmt['bit_rate']) / 1e3:.0f} kb/s; {streams}; "
              f"{r['result'].tiles} tiles; from {r['mjr_bytes'] / 1e6:.1f} MB of .mjr")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=20.0, help="length of each recording (default 20)")
    ap.add_argument("--participants", default="2,4", help="participant counts, comma-separated (default 2,4)")
    ap.add_argument("--keep", type=Path, help="keep the recordings and MP4s in this folder")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/recording.py needs root for the media test interface (scripts/media-net.sh)")
    for tool in ("janus", "janus-pp-rec", "ffmpeg", "ffprobe"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not installed")
    subprocess.run(["bash", str(ROOT / "scripts" / "media-net.sh")], check=True, timeout=30)

    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix="bench-recording-", dir=args.keep))
    else:
        folder = Path(tempfile.mkdtemp(prefix="bench-recording-"))
    limit = (args.seconds + 60) * 2 * len(args.participants.split(",")) + 300

    async def bounded() -> list[dict[str, Any]]:
        async with asyncio.timeout(limit):
            return await run(args, folder)

    try:
        rows = asyncio.run(bounded())
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            print(f"kept: {folder}")
    report(rows)
    with contextlib.suppress(Exception):
        sys.stdout.flush()


if __name__ == "__main__":
    main()
