"""Compose a meeting's recorded tracks (Janus ``.mjr`` files) into one MP4: a grid of videos, one mix of sounds.

Janus writes one ``.mjr`` file per recorded track. meetkit names a publisher's recording
``<rec_dir>/<feed>-<camera|screen>-<seq>`` (``seq`` grows each time a recording is (re)started), and
Janus adds ``-<audio|video|data>-<mindex>.mjr``. :func:`discover_tracks` reads those names back;
:func:`compose` then:

1. reads each file's header and packet index (``janus-pp-rec -e``): codec, the wall-clock time of its
   first packet (``u``, in µs), and its duration. Files without a readable header or packets are skipped
   (see :attr:`ComposeResult.skipped`); a file cut short by a crash keeps what it holds;
2. turns each file into a media file without re-encoding (``janus-pp-rec``: ``.opus`` for Opus,
   ``.webm`` for VP8/VP9, ``.mp4`` for H.264), several at a time;
3. places everything on one timeline that starts at ``start_us`` (default: the earliest first packet)
   and ends at ``end_us`` (default: the latest track end), and encodes it in ONE ffmpeg run: a black
   canvas for the whole duration, each video segment scaled into its tile (letterboxed, black around)
   and overlaid from its offset until its end (black again after), every audio track delayed by its
   offset and mixed without normalisation (``amix normalize=0``: a voice keeps its volume when
   someone else starts or stops). H.264 (libx264 superfast without B-frames, yuv420p, 25 fps) + AAC
   128 kb/s, ``+faststart``.

Layout (sizes by the number of *video* tiles; a tile is one participant's camera or one screen share,
whatever number of segments it has):

- no screen share: a grid of ``cols = ceil(sqrt(n))`` columns and ``ceil(n / cols)`` rows of 640x360
  tiles (from 4 columns on, tiles shrink so the canvas is 1920 wide). 0 or 1 tile: 640x360;
  2: 1280x360; 3-4: 1280x720; 5-6: 1920x720; 7-9: 1920x1080; 10-12: 1920x810 (480x270 tiles)...
  A last, incomplete row is centred.
- with screen shares: the screens share a 1280x720 featured area (one screen fills it), and cameras sit
  in a strip under it, 320x180 each, four to a row (two rows at most: beyond 8 cameras they shrink).
  One screen alone: 1280x720; one screen and 1-4 cameras: 1280x900; 5-8 cameras: 1280x1080.

Every video is scaled to fit its tile keeping its aspect ratio; resolution changes inside a file (a
browser adapting its camera, a resized shared window) are followed frame by frame. Tracks that only
carry audio take no tile; with no video at all, the MP4 has a black 640x360 picture.

Everything runs as subprocesses with a deadline (``time_limit`` for the whole composition); what they
print goes to log files in ``work_dir`` (``compose.log`` for ffmpeg, ``<n>-<track>.log`` per track),
and the converted intermediates stay there too: the caller removes ``work_dir``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import re
import shutil
import signal
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal

log = logging.getLogger("meetkit.recording")

MediaType = Literal["audio", "video"]
Role = Literal["camera", "screen"]

TILE_W, TILE_H = 640, 360
MAX_GRID_W = 1920
FEATURED_W, FEATURED_H = 1280, 720
STRIP_W, STRIP_H = 320, 180
FPS = 25
SAMPLE_RATE = 48000

JANUS_PP_REC = "janus-pp-rec"
FFMPEG = "ffmpeg"
FFPROBE = "ffprobe"

# <feed>-<camera|screen>-<seq>-<audio|video|data>-<mindex>.mjr, as meetkit and Janus name them.
_MJR_NAME = re.compile(
    r"^(?P<feed>.+)-(?P<role>camera|screen)-(?P<seq>\d+)-(?P<media>audio|video|data)-(?P<mindex>\d+)\.mjr$"
)
# What janus-pp-rec turns each codec into without re-encoding.
_EXTENSIONS = {"opus": "opus", "vp8": "webm", "vp9": "webm", "h264": "mp4"}
_MEDIA_TYPES: dict[str, MediaType] = {"a": "audio", "v": "video"}


class ComposeError(Exception):
    """The composition could not be made (a tool failed or is missing, the time limit was reached...)."""


class ComposeTimeout(ComposeError):
    """The composition's ``time_limit`` was reached; what was running was stopped."""


@dataclass(frozen=True)
class Track:
    """One recorded track (one .mjr file). Tracks with the same ``tile`` are shown in the same grid cell."""

    path: Path
    kind: MediaType
    tile: str
    role: Role


@dataclass(frozen=True)
class ComposeResult:
    duration: float
    """Of the MP4, in seconds (as ffprobe reads it)."""
    width: int
    height: int
    tiles: int
    """Video tiles shown (see the layout rule in the module documentation)."""
    skipped: tuple[Path, ...] = ()
    """Tracks left out: no readable header or packets, an unsupported codec, a failed conversion."""


@dataclass(frozen=True)
class Cell:
    x: int
    y: int
    w: int
    h: int


@dataclass(frozen=True)
class Layout:
    width: int
    height: int
    cells: dict[str, Cell] = field(default_factory=dict)


# -- finding tracks -----------------------------------------------------------------------------------


def discover_tracks(rec_dir: Path) -> list[Track]:
    """The audio and video tracks meetkit recorded in ``rec_dir`` (see the naming above); empty files ignored.

    Ordered by tile, then by recording sequence, then by track.
    """
    found: list[tuple[tuple[object, ...], Track]] = []
    for path in rec_dir.glob("*.mjr"):
        match = _MJR_NAME.match(path.name)
        if match is None or match["media"] == "data":
            continue
        try:
            if path.stat().st_size == 0:
                continue
        except OSError:
            continue
        role: Role = "screen" if match["role"] == "screen" else "camera"
        kind: MediaType = "audio" if match["media"] == "audio" else "video"
        tile = f"{match['feed']}-{role}"
        found.append(((_tile_order(tile), int(match["seq"]), int(match["mindex"])), Track(path, kind, tile, role)))
    found.sort(key=lambda item: item[0])
    return [track for _, track in found]


def _tile_order(tile: str) -> tuple[int, int, str]:
    feed = tile.rsplit("-", 1)[0]
    return (0, int(feed), tile) if feed.isdigit() else (1, 0, tile)


# -- layout ---------------------------------------------------------------------------------------------


def plan_layout(tiles: Sequence[tuple[str, Role]]) -> Layout:
    """Where each video tile goes (see the module documentation for the rule)."""
    screens = [tile for tile, role in tiles if role == "screen"]
    cameras = [tile for tile, role in tiles if role != "screen"]
    if not screens:
        if not cameras:
            return Layout(TILE_W, TILE_H)
        cols = math.ceil(math.sqrt(len(cameras)))
        tile_w = TILE_W if cols * TILE_W <= MAX_GRID_W else _even(MAX_GRID_W / cols)
        tile_h = TILE_H if tile_w == TILE_W else _even(tile_w * 9 / 16)
        cells = _grid(cameras, cols, tile_w, tile_h, 0, 0, cols * tile_w)
        rows = math.ceil(len(cameras) / cols)
        return Layout(cols * tile_w, rows * tile_h, cells)

    scols = math.ceil(math.sqrt(len(screens)))
    cells = _grid(screens, scols, _even(FEATURED_W / scols), _even(FEATURED_H / scols), 0, 0, FEATURED_W)
    if not cameras:
        return Layout(FEATURED_W, FEATURED_H, cells)
    per_row = max(4, math.ceil(len(cameras) / 2))
    cam_w = STRIP_W if per_row == 4 else _even(FEATURED_W / per_row)
    cam_h = STRIP_H if per_row == 4 else _even(cam_w * 9 / 16)
    cells.update(_grid(cameras, per_row, cam_w, cam_h, 0, FEATURED_H, FEATURED_W))
    rows = math.ceil(len(cameras) / per_row)
    return Layout(FEATURED_W, FEATURED_H + rows * cam_h, cells)


def _grid(tiles: Sequence[str], cols: int, w: int, h: int, x0: int, y0: int, area_w: int) -> dict[str, Cell]:
    cells: dict[str, Cell] = {}
    for i, tile in enumerate(tiles):
        row, col = divmod(i, cols)
        in_row = min(cols, len(tiles) - row * cols)
        left = x0 + int(area_w - in_row * w) // 4 * 2  # an incomplete row is centred
        cells[tile] = Cell(left + col * w, y0 + row * h, w, h)
    return cells


def _even(value: float) -> int:
    return max(2, int(value) // 2 * 2)


# -- composing ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Media:
    """A track made ready: converted file, where it starts (µs, wall clock) and how long it lasts."""

    track: Track
    kind: MediaType
    file: Path
    first_us: int
    duration: float


async def compose(
    tracks: list[Track],
    out: Path,
    *,
    work_dir: Path,
    start_us: int | None = None,
    end_us: int | None = None,
    time_limit: float = 3600,
) -> ComposeResult:
    """Compose ``tracks`` into the MP4 ``out`` (written whole or not at all). Raises :class:`ComposeError`.

    The timeline runs from ``start_us`` to ``end_us`` (wall-clock µs, as in the .mjr headers); by default
    from the earliest track start to the latest track end. Nothing to compose (no usable track and no
    explicit ``start_us``/``end_us``) is an error; with both given and no usable track, the MP4 is black
    and silent.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + time_limit
    for tool in (JANUS_PP_REC, FFMPEG, FFPROBE):
        if shutil.which(tool) is None:
            raise ComposeError(f"{tool} is not installed")
    await asyncio.to_thread(work_dir.mkdir, parents=True, exist_ok=True)

    gate = asyncio.Semaphore(os.cpu_count() or 1)

    async def prepare(index: int, track: Track) -> _Media | None:
        async with gate:
            return await _prepare(index, track, work_dir, deadline)

    try:
        async with asyncio.TaskGroup() as group:  # one failure (the time limit) stops the others
            jobs = [group.create_task(prepare(i, track)) for i, track in enumerate(tracks)]
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None
    prepared = [job.result() for job in jobs]
    media = [m for m in prepared if m is not None]
    skipped = tuple(track.path for track, m in zip(tracks, prepared, strict=True) if m is None)

    if start_us is None:
        if not media:
            raise ComposeError("no usable track to compose, and no start time given")
        start_us = min(m.first_us for m in media)
    if end_us is None:
        if not media:
            raise ComposeError("no usable track to compose, and no end time given")
        end_us = max(m.first_us + round(m.duration * 1_000_000) for m in media)
    if end_us <= start_us:
        raise ComposeError(f"the timeline is empty: ends at {end_us} µs, before its start at {start_us} µs")
    duration = (end_us - start_us) / 1_000_000

    # Only what overlaps the timeline; tiles are those with video in it.
    shown = [m for m in media if m.first_us < end_us and m.first_us + m.duration * 1_000_000 > start_us]
    tiles: dict[str, Role] = {}
    for m in sorted(shown, key=lambda m: _tile_order(m.track.tile)):
        if m.kind == "video":
            tiles.setdefault(m.track.tile, m.track.role)
    layout = plan_layout(list(tiles.items()))

    partial = out.with_name(out.name + ".part")
    argv = _ffmpeg_command(shown, layout, start_us, duration, partial)
    log_path = work_dir / "compose.log"
    try:
        await _run(argv, deadline=deadline, log_path=log_path, what="ffmpeg")
        await asyncio.to_thread(os.replace, partial, out)
    finally:
        with contextlib.suppress(FileNotFoundError):
            await asyncio.to_thread(partial.unlink)

    probed = await _probe(out, deadline, log_path)
    return ComposeResult(probed[0], probed[1], probed[2], len(tiles), skipped)


async def _prepare(index: int, track: Track, work_dir: Path, deadline: float) -> _Media | None:
    """Read the header of ``track`` and convert it; ``None`` (logged) if it cannot be used."""
    log_path = work_dir / f"{index:03d}-{track.path.stem}.log"
    try:
        raw = await _run(
            [JANUS_PP_REC, "-e", str(track.path)], deadline=deadline, log_path=log_path, what="janus-pp-rec",
            capture=True,
        )
        header = json.loads(raw)
        kind = _MEDIA_TYPES[header["t"]]
        codec = str(header["c"])
        first_us = int(header.get("u") or header["s"])
        extended = header.get("extended") or {}
        duration = float(extended["duration"])
        if int(extended.get("packets", 1)) <= 0:
            raise ValueError("no packets")
    except ComposeTimeout:
        raise
    except ComposeError as exc:
        log.warning("recording track %s has no readable header or packets; skipped (%s)", track.path, exc)
        return None
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("recording track %s has no usable header; skipped (%r)", track.path, exc)
        return None
    ext = _EXTENSIONS.get(codec)
    if ext is None:
        log.warning("recording track %s: codec %s is not composed; skipped", track.path, codec)
        return None
    target = work_dir / f"{index:03d}-{track.path.stem}.{ext}"
    try:
        await _run([JANUS_PP_REC, str(track.path), str(target)], deadline=deadline, log_path=log_path,
                   what="janus-pp-rec")
        size = (await asyncio.to_thread(target.stat)).st_size
    except ComposeTimeout:
        raise
    except ComposeError as exc:
        log.warning("recording track %s could not be converted; skipped (%s)", track.path, exc)
        return None
    except FileNotFoundError:
        size = 0
    if size == 0:
        log.warning("recording track %s converted to nothing; skipped", track.path)
        return None
    return _Media(track, kind, target, first_us, duration)


def _ffmpeg_command(media: Sequence[_Media], layout: Layout, start_us: int, duration: float, out: Path) -> list[str]:
    argv = [FFMPEG, "-nostdin", "-hide_banner", "-nostats", "-loglevel", "info", "-y"]
    length = f"{duration:.3f}"
    graph = [f"color=c=black:s={layout.width}x{layout.height}:r={FPS}:d={length},format=yuv420p[v0]"]
    # A silent input as long as the timeline comes first: it sets the mix's length.
    sounds = ["[silence]"]
    graph.append(f"anullsrc=r={SAMPLE_RATE}:cl=stereo,atrim=duration={length}[silence]")
    canvas = "[v0]"
    for index, m in enumerate(media):
        offset = (m.first_us - start_us) / 1_000_000
        # A track that began before the timeline is cut to it; one that begins later waits its turn.
        cut = max(0.0, -offset)
        offset = max(0.0, offset)
        if m.kind == "video":
            # Frames may change size mid-file: let scale follow them rather than rebuild the graph.
            argv += ["-reinit_filter", "0", "-i", str(m.file)]
            cell = layout.cells[m.track.tile]
            trim = f"trim=start={cut:.3f},setpts=PTS-STARTPTS," if cut else ""
            graph.append(
                f"[{index}:v]{trim}scale=w={cell.w}:h={cell.h}:force_original_aspect_ratio=decrease"
                f":force_divisible_by=2,setsar=1,setpts=PTS+{offset:.3f}/TB[t{index}]"
            )
            # Before its first frame and after its last, the canvas (black) shows through.
            graph.append(
                f"{canvas}[t{index}]overlay=x={cell.x}+trunc(({cell.w}-w)/4)*2:y={cell.y}+trunc(({cell.h}-h)/4)*2"
                f":eof_action=pass:eval=frame[v{index + 1}]"
            )
            canvas = f"[v{index + 1}]"
        else:
            argv += ["-i", str(m.file)]
            trim = f"atrim=start={cut:.3f},asetpts=PTS-STARTPTS," if cut else ""
            graph.append(
                f"[{index}:a]{trim}aresample={SAMPLE_RATE}:async=1,"
                f"aformat=sample_fmts=fltp:sample_rates={SAMPLE_RATE}:channel_layouts=stereo,"
                f"adelay=delays={round(offset * 1000)}:all=1[a{index}]"
            )
            sounds.append(f"[a{index}]")
    graph.append(f"{canvas}null[vout]")
    # normalize=0: every voice keeps its level when others start or stop.
    graph.append(
        f"{''.join(sounds)}amix=inputs={len(sounds)}:duration=first:dropout_transition=0:normalize=0[aout]"
        if len(sounds) > 1 else "[silence]anull[aout]"
    )
    argv += [
        "-filter_complex", ";".join(graph),
        "-map", "[vout]", "-map", "[aout]",
        # No B-frames: a fifth less encoding CPU for a tenth more bytes (measured on a 4-tile meeting).
        "-c:v", "libx264", "-preset", "superfast", "-bf", "0", "-crf", "23", "-pix_fmt", "yuv420p", "-r", str(FPS),
        "-c:a", "aac", "-b:a", "128k", "-ar", str(SAMPLE_RATE),
        "-t", length, "-movflags", "+faststart", "-f", "mp4", str(out),
    ]
    return argv


async def _probe(path: Path, deadline: float, log_path: Path) -> tuple[float, int, int]:
    raw = await _run(
        [FFPROBE, "-v", "error", "-of", "json", "-show_streams", "-show_format", str(path)],
        deadline=deadline, log_path=log_path, what="ffprobe", capture=True,
    )
    try:
        facts = json.loads(raw)
        video = next(s for s in facts["streams"] if s.get("codec_type") == "video")
        return float(facts["format"]["duration"]), int(video["width"]), int(video["height"])
    except (ValueError, KeyError, StopIteration) as exc:
        raise ComposeError(f"ffprobe could not read the composed file {path}: {exc!r}") from exc


async def _run(
    argv: list[str], *, deadline: float, log_path: Path, what: str, capture: bool = False
) -> bytes:
    """Run ``argv`` until ``deadline`` (loop time); its diagnostics go to ``log_path``. Returns stdout if captured."""
    remaining = deadline - asyncio.get_running_loop().time()
    if remaining <= 0:
        raise ComposeTimeout(f"{what}: the composition's time limit was reached")
    logfile = await asyncio.to_thread(_open_log, log_path, argv)
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE if capture else logfile,
            stderr=logfile,
            start_new_session=True,  # its own process group: a timeout ends it and anything it started
        )
        try:
            async with asyncio.timeout(remaining):
                stdout, _ = await proc.communicate()
        except BaseException as exc:
            _kill(proc)
            with contextlib.suppress(ProcessLookupError):
                await proc.wait()
            if isinstance(exc, TimeoutError):
                raise ComposeTimeout(f"{what}: the composition's time limit was reached") from None
            raise
    finally:
        logfile.close()
    if proc.returncode != 0:
        tail = await asyncio.to_thread(_tail, log_path)
        raise ComposeError(f"{what} failed (exit {proc.returncode}); {log_path.name}: {tail}")
    return stdout or b""


def _open_log(path: Path, argv: list[str]) -> IO[bytes]:
    logfile = path.open("ab")
    logfile.write(("\n$ " + " ".join(argv) + "\n").encode())
    logfile.flush()
    return logfile


def _tail(path: Path, size: int = 600) -> str:
    try:
        with path.open("rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - size))
            return f.read().decode(errors="replace").strip()
    except OSError:
        return ""


def _kill(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
