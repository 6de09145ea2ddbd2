"""Pre-encoded clips: made once with ffmpeg (Debian's, libvpx + libopus) into a cache folder."""

from __future__ import annotations

import fcntl
import functools
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

# Size -> VP8 bitrate: the simulcast layers the browsers send (rid l/m/h, docs/media.md).
SIZES: dict[str, tuple[int, int, int]] = {
    "320x180": (320, 180, 150_000),
    "640x360": (640, 360, 450_000),
    "1280x720": (1280, 720, 1_200_000),
}
SECONDS = 6  # looped; long enough that the tone and pattern are not a 1-s cycle
FPS = 30
CACHE = Path(os.environ.get("MEETKIT_SYNTHETIC_CACHE", Path.home() / ".cache" / "meetkit-synthetic"))


@dataclass(frozen=True)
class Clip:
    """One clip's packets in order: (payload, time in seconds from the start)."""

    size: str
    video: tuple[tuple[bytes, float], ...]
    audio: tuple[tuple[bytes, float], ...]
    duration: float  # the loop length


def _make(path: Path, width: int, height: int, bitrate: int) -> None:
    tmp = path.with_suffix(".part.webm")
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate={FPS}",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
         "-t", str(SECONDS),
         # A key frame every second: a new subscriber's PLI gets no answer from a pre-encoded clip.
         "-c:v", "libvpx", "-b:v", str(bitrate), "-maxrate", str(bitrate), "-bufsize", str(bitrate),
         "-g", str(FPS), "-deadline", "realtime", "-cpu-used", "8", "-auto-alt-ref", "0",
         "-c:a", "libopus", "-b:a", "32k", "-ac", "1", "-frame_duration", "20",
         str(tmp)],
        check=True, timeout=300)
    tmp.rename(path)


@functools.cache
def clip(size: str = "320x180") -> Clip:
    """The clip of that size, made on first use (locked, so parallel processes make it once)."""
    import av

    width, height, bitrate = SIZES[size]
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"testsrc2-sine-{size}-{bitrate // 1000}k-{SECONDS}s.webm"
    with open(CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not path.exists():
            _make(path, width, height, bitrate)
    video: list[tuple[bytes, float]] = []
    audio: list[tuple[bytes, float]] = []
    with av.open(str(path)) as container:
        for packet in container.demux():
            if not packet.size or packet.pts is None:
                continue
            at = float(packet.pts * packet.time_base)
            (video if packet.stream.type == "video" else audio).append((bytes(packet), at))
    start = min(video[0][1], audio[0][1])
    return Clip(size, tuple((b, t - start) for b, t in video), tuple((b, t - start) for b, t in audio),
                float(SECONDS))
