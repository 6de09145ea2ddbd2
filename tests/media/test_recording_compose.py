"""Recording: per-publisher .mjr files from a real Janus (MediaParticipant.record), composed into one MP4.

Two aiortc participants publish through a real Janus (JanusSupervisor in a temporary data folder, ICE on
127.0.0.5 only, the veth made by scripts/media-net.sh: needs root). Alice is red with a 400 Hz tone,
Bob is blue and silent; Bob's camera recording stops and restarts midway (two segments, a gap between).
The composed MP4 is then read back with ffprobe and by looking at pixels.
"""

from __future__ import annotations

import array
import asyncio
import json
import math
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from meetkit.config import Settings
from meetkit.media import JanusSupervisor, MediaServer
from meetkit.recording import ComposeError, ComposeTimeout, Track, compose, discover_tracks, plan_layout

MEDIA_ADDR = "127.0.0.5"
ROOT = Path(__file__).resolve().parents[2]
ALICE, BOB = 101, 102
RED = (81, 90, 240)  # Y, U, V (BT.601, limited range)
BLUE = (41, 240, 110)

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="the media test interface (veth mkv0) needs root")
needs_tools = pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("janus-pp-rec", "ffmpeg", "ffprobe")),
    reason="janus-pp-rec, ffmpeg and ffprobe are needed",
)
pytestmark = needs_tools


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# -- the recording, made once for the module ---------------------------------------------------------


@dataclass
class Recorded:
    rec_dir: Path
    started: float  # wall clock, just before the first record()
    bob_stopped: float
    bob_restarted: float
    ended: float  # just after the last record(None)
    names_after_repeat: set[str]  # files present after the idempotent calls


def _tracks() -> tuple[type[Any], type[Any]]:
    from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack
    from av import VideoFrame

    class ColorTrack(VideoStreamTrack):
        """640x480 frames of one colour, so the composed picture tells who is where."""

        def __init__(self, yuv: tuple[int, int, int]) -> None:
            super().__init__()
            self._yuv = yuv
            self._planes: list[bytes] | None = None

        async def recv(self) -> Any:
            pts, time_base = await self.next_timestamp()
            frame = VideoFrame(width=640, height=480)
            if self._planes is None:
                planes = zip(self._yuv, frame.planes, strict=True)
                self._planes = [bytes([value]) * plane.buffer_size for value, plane in planes]
            for plane, data in zip(frame.planes, self._planes, strict=True):
                plane.update(data)
            frame.pts, frame.time_base = pts, time_base
            return frame

    class ToneTrack(AudioStreamTrack):
        """A 400 Hz tone (8 kHz mono, 20 ms frames: 8 whole periods each)."""

        _tone = array.array("h", (int(9000 * math.sin(2 * math.pi * i / 20)) for i in range(160))).tobytes()

        async def recv(self) -> Any:
            frame: Any = await super().recv()
            frame.planes[0].update(self._tone)
            return frame

    return ColorTrack, ToneTrack


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def media(media_net: None, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[MediaServer]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("rec-media"),
        janus_ws_port=_free_port(),
        janus_admin_port=None,
        media_rtp_ports="45000-45999",
        media_ice_interface=MEDIA_ADDR,
        _env_file=None,
    )
    sup = JanusSupervisor(settings)
    await sup.start()
    server = MediaServer(sup.url, admin_key=sup.admin_key, api_secret=None)
    try:
        await server.start()
        yield server
    finally:
        await server.stop()
        await sup.stop()


@pytest.fixture(scope="module")
def aiortc_on_media_addr() -> Iterator[None]:
    pytest.importorskip("aiortc")
    import aioice.ice

    # The peers gather candidates on 127.0.0.5 only (never this machine's other addresses), no STUN.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: [MEDIA_ADDR])
        yield


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def recorded(
    media: MediaServer, aiortc_on_media_addr: None, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Recorded]:
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
    from aiortc.mediastreams import AudioStreamTrack

    color_track, tone_track = _tracks()
    rec_dir = tmp_path_factory.mktemp("rec")
    room = 7301
    await media.create_room(room, publishers=4)
    people = []
    pcs = []
    try:
        for feed, color, audio in ((ALICE, RED, tone_track()), (BOB, BLUE, AudioStreamTrack())):
            await media.allow(room, f"tok-{feed}")
            person = await media.open_participant(room, f"tok-{feed}")
            pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
            pcs.append(pc)
            people.append(person)
            pc.addTrack(audio)
            pc.addTrack(color_track(color))
            await pc.setLocalDescription(await pc.createOffer())  # aiortc: returns after gathering
            answer = await person.publish("camera", feed, f"p{feed}", pc.localDescription.sdp)
            await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        alice, bob = people
        for person in people:
            await person.wait_live("camera", 15)

        started = time.time()
        await alice.record("camera", f"{rec_dir}/{ALICE}-camera-1")
        await bob.record("camera", f"{rec_dir}/{BOB}-camera-2")
        await alice.record("camera", f"{rec_dir}/{ALICE}-camera-1")  # again: nothing changes
        await alice.record("screen", f"{rec_dir}/{ALICE}-screen-3")  # not publishing a screen: no-op
        assert alice.recordings == {"camera": f"{rec_dir}/{ALICE}-camera-1"}
        await asyncio.sleep(2.0)
        await bob.record("camera", None)
        bob_stopped = time.time()
        await bob.record("camera", None)  # again: nothing changes
        assert bob.recordings == {}
        await asyncio.sleep(1.5)
        bob_restarted = time.time()
        await bob.record("camera", f"{rec_dir}/{BOB}-camera-4")
        await asyncio.sleep(2.5)
        await alice.record("camera", None)
        await bob.record("camera", None)
        ended = time.time()
        names = {p.name for p in rec_dir.iterdir()}
    finally:
        for pc in pcs:
            await pc.close()
        for person in people:
            await person.close()
        await media.destroy_room(room)
    yield Recorded(rec_dir, started, bob_stopped, bob_restarted, ended, names)


@needs_root
async def test_record_in_a_room_with_a_rec_dir(
    media: MediaServer, aiortc_on_media_addr: None, tmp_path: Path
) -> None:
    # Janus writes to "<rec_dir>/<filename>.mjr" when the room has a rec_dir: record() passes the
    # name relative to it, and refuses a file elsewhere.
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
    from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack

    room, feed = 7302, 201
    await media.create_room(room, publishers=2, rec_dir=str(tmp_path))
    await media.allow(room, "tok-dir")
    person = await media.open_participant(room, "tok-dir")
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        pc.addTrack(AudioStreamTrack())
        pc.addTrack(VideoStreamTrack())
        await pc.setLocalDescription(await pc.createOffer())
        answer = await person.publish("camera", feed, "dir", pc.localDescription.sdp)
        await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        with pytest.raises(ValueError):
            await person.record("camera", "/elsewhere/201-camera-1")
        with pytest.raises(ValueError):
            await person.record("camera", "201-camera-1")  # not absolute
        await person.record("camera", f"{tmp_path}/{feed}-camera-1")  # before webrtcup: files open with it
        await person.wait_live("camera", 15)
        await asyncio.sleep(1.0)
        await person.record("camera", None)
    finally:
        await pc.close()
        await person.close()
        await media.destroy_room(room)
    assert [(t.path.name, t.kind) for t in discover_tracks(tmp_path)] == [
        (f"{feed}-camera-1-audio-0.mjr", "audio"), (f"{feed}-camera-1-video-1.mjr", "video"),
    ]


# -- reading the result back ---------------------------------------------------------------------------


def _probe(path: Path) -> dict[str, Any]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-of", "json", "-show_streams", "-show_format", str(path)],
        capture_output=True, text=True, timeout=30, check=True,
    ).stdout
    facts: dict[str, Any] = json.loads(out)
    return facts


def _codecs(facts: dict[str, Any]) -> dict[str, str]:
    return {s["codec_type"]: s["codec_name"] for s in facts["streams"]}


def _size(facts: dict[str, Any]) -> tuple[int, int]:
    video = next(s for s in facts["streams"] if s["codec_type"] == "video")
    return int(video["width"]), int(video["height"])


def _pixel(path: Path, at: float, x: int, y: int) -> tuple[int, int, int]:
    width, height = _size(_probe(path))
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-ss", f"{at:.2f}", "-i", str(path), "-frames:v", "1", "-f", "rawvideo",
         "-pix_fmt", "rgb24", "-"],
        capture_output=True, timeout=30, check=True,
    ).stdout
    assert len(raw) == width * height * 3
    i = (y * width + x) * 3
    return raw[i], raw[i + 1], raw[i + 2]


def _mean_volume(path: Path, start: float, length: float) -> float:
    err = subprocess.run(
        ["ffmpeg", "-nostdin", "-ss", f"{start:.2f}", "-t", f"{length:.2f}", "-i", str(path), "-vn",
         "-af", "volumedetect", "-f", "null", "-"],
        capture_output=True, text=True, timeout=30, check=True,
    ).stderr
    found = re.search(r"mean_volume: (-?[\d.]+|-inf) dB", err)
    assert found, err
    return float(found.group(1))


def is_red(rgb: tuple[int, int, int]) -> bool:
    return rgb[0] > 150 and rgb[1] < 90 and rgb[2] < 90


def is_blue(rgb: tuple[int, int, int]) -> bool:
    return rgb[2] > 150 and rgb[0] < 90 and rgb[1] < 90


def is_black(rgb: tuple[int, int, int]) -> bool:
    return max(rgb) < 40


# -- the tests ------------------------------------------------------------------------------------------


@needs_root
async def test_record_writes_one_file_per_track_named_after_the_base(recorded: Recorded) -> None:
    assert recorded.names_after_repeat == {
        f"{ALICE}-camera-1-audio-0.mjr", f"{ALICE}-camera-1-video-1.mjr",
        f"{BOB}-camera-2-audio-0.mjr", f"{BOB}-camera-2-video-1.mjr",
        f"{BOB}-camera-4-audio-0.mjr", f"{BOB}-camera-4-video-1.mjr",
    }
    tracks = discover_tracks(recorded.rec_dir)
    assert [(t.path.name, t.kind, t.tile, t.role) for t in tracks] == [
        (f"{ALICE}-camera-1-audio-0.mjr", "audio", f"{ALICE}-camera", "camera"),
        (f"{ALICE}-camera-1-video-1.mjr", "video", f"{ALICE}-camera", "camera"),
        (f"{BOB}-camera-2-audio-0.mjr", "audio", f"{BOB}-camera", "camera"),
        (f"{BOB}-camera-2-video-1.mjr", "video", f"{BOB}-camera", "camera"),
        (f"{BOB}-camera-4-audio-0.mjr", "audio", f"{BOB}-camera", "camera"),
        (f"{BOB}-camera-4-video-1.mjr", "video", f"{BOB}-camera", "camera"),
    ]


@needs_root
async def test_two_participants_compose_into_a_two_tile_grid(recorded: Recorded, tmp_path: Path) -> None:
    out = tmp_path / "meeting.mp4"
    began = time.monotonic()
    result = await compose(discover_tracks(recorded.rec_dir), out, work_dir=tmp_path / "work", time_limit=120)
    took = time.monotonic() - began
    expected = recorded.ended - recorded.started
    assert abs(result.duration - expected) <= 1.0, (result, expected)
    assert (result.width, result.height, result.tiles, result.skipped) == (1280, 360, 2, ())
    facts = _probe(out)
    assert _codecs(facts) == {"video": "h264", "audio": "aac"}
    assert _size(facts) == (1280, 360)
    assert abs(float(facts["format"]["duration"]) - expected) <= 1.0
    assert (tmp_path / "work" / "compose.log").stat().st_size > 0
    assert not (tmp_path / "meeting.mp4.part").exists()

    # The composition starts at the first packet, a moment after `started`.
    def at(wall: float) -> float:
        return wall - recorded.started

    alice_xy, bob_xy = (320, 180), (960, 180)  # tile centres, by feed order
    both = at(recorded.started + 1.0)
    gap = at((recorded.bob_stopped + recorded.bob_restarted) / 2)
    again = at(recorded.bob_restarted + 1.2)
    assert is_red(_pixel(out, both, *alice_xy)) and is_blue(_pixel(out, both, *bob_xy))
    assert is_red(_pixel(out, gap, *alice_xy)) and is_black(_pixel(out, gap, *bob_xy))
    assert is_red(_pixel(out, again, *alice_xy)) and is_blue(_pixel(out, again, *bob_xy))
    # Letterboxed: 4:3 in a 16:9 tile, black bars at the sides.
    assert is_black(_pixel(out, both, 20, 180)) and is_red(_pixel(out, both, 100, 180))

    # Alice's tone is heard throughout, Bob's silence adds nothing and costs her nothing (no normalising).
    assert _mean_volume(out, 0.5, 1.0) > -30
    assert abs(_mean_volume(out, gap - 0.5, 1.0) - _mean_volume(out, 0.5, 1.0)) < 3
    print(f"composed {result.duration:.1f} s in {took:.2f} s")


@needs_root
async def test_one_tile_and_audio_only(recorded: Recorded, tmp_path: Path) -> None:
    tracks = discover_tracks(recorded.rec_dir)
    alice = [t for t in tracks if t.tile == f"{ALICE}-camera"]
    result = await compose(alice, tmp_path / "one.mp4", work_dir=tmp_path / "w1", time_limit=120)
    assert (result.width, result.height, result.tiles) == (640, 360, 1)
    assert _size(_probe(tmp_path / "one.mp4")) == (640, 360)
    assert is_red(_pixel(tmp_path / "one.mp4", 1.0, 320, 180))

    sounds = [t for t in tracks if t.kind == "audio"]
    result = await compose(sounds, tmp_path / "audio.mp4", work_dir=tmp_path / "w2", time_limit=120)
    facts = _probe(tmp_path / "audio.mp4")
    assert (result.width, result.height, result.tiles) == (640, 360, 0)
    assert _codecs(facts) == {"video": "h264", "audio": "aac"}
    assert abs(float(facts["format"]["duration"]) - (recorded.ended - recorded.started)) <= 1.0
    assert is_black(_pixel(tmp_path / "audio.mp4", 1.0, 320, 180))
    assert _mean_volume(tmp_path / "audio.mp4", 0.5, 1.0) > -30


@needs_root
async def test_an_explicit_window_cuts_the_timeline(recorded: Recorded, tmp_path: Path) -> None:
    # From 1 s after the recording started (Bob's first segment is cut) to 4 s (Alice's track is cut).
    start = recorded.started + 1.0
    out = tmp_path / "window.mp4"
    result = await compose(
        discover_tracks(recorded.rec_dir), out, work_dir=tmp_path / "w", time_limit=120,
        start_us=int(start * 1_000_000), end_us=int((start + 3.0) * 1_000_000),
    )
    assert abs(result.duration - 3.0) <= 0.2
    assert (result.width, result.height, result.tiles) == (1280, 360, 2)
    gap = (recorded.bob_stopped + recorded.bob_restarted) / 2 - start
    assert is_red(_pixel(out, 0.3, 320, 180)) and is_blue(_pixel(out, 0.3, 960, 180))
    assert is_red(_pixel(out, gap, 320, 180)) and is_black(_pixel(out, gap, 960, 180))


@needs_root
async def test_a_truncated_track_still_composes(recorded: Recorded, tmp_path: Path) -> None:
    # Janus died mid-recording: Alice's video file is cut in half (mid-packet).
    crashed = tmp_path / "crashed"
    shutil.copytree(recorded.rec_dir, crashed)
    video = crashed / f"{ALICE}-camera-1-video-1.mjr"
    data = video.read_bytes()
    video.write_bytes(data[: len(data) // 2])
    out = tmp_path / "crashed.mp4"
    result = await compose(discover_tracks(crashed), out, work_dir=tmp_path / "w", time_limit=120)
    assert (result.width, result.height, result.tiles, result.skipped) == (1280, 360, 2, ())
    assert _codecs(_probe(out)) == {"video": "h264", "audio": "aac"}
    assert abs(result.duration - (recorded.ended - recorded.started)) <= 1.0
    assert is_red(_pixel(out, 0.5, 320, 180))


@needs_root
async def test_a_screen_share_is_featured(recorded: Recorded, tmp_path: Path) -> None:
    # Bob's segments shown as a screen share: featured 1280x720, Alice's camera in the strip below.
    tracks = [
        Track(t.path, t.kind, f"{BOB}-screen", "screen") if t.tile == f"{BOB}-camera" else t
        for t in discover_tracks(recorded.rec_dir)
    ]
    out = tmp_path / "screen.mp4"
    result = await compose(tracks, out, work_dir=tmp_path / "w", time_limit=120)
    assert (result.width, result.height, result.tiles) == (1280, 900, 2)
    assert is_blue(_pixel(out, 1.0, 640, 360))
    assert is_red(_pixel(out, 1.0, 640, 810))  # the one camera, centred in the strip


@needs_root
async def test_a_header_only_track_is_skipped(recorded: Recorded, tmp_path: Path) -> None:
    source = recorded.rec_dir / f"{ALICE}-camera-1-video-1.mjr"
    data = source.read_bytes()
    header_only = tmp_path / f"{ALICE}-screen-9-video-0.mjr"
    header_only.write_bytes(data[: 10 + int.from_bytes(data[8:10], "big")])
    tracks = [*discover_tracks(recorded.rec_dir), *discover_tracks(tmp_path)]
    result = await compose(tracks, tmp_path / "out.mp4", work_dir=tmp_path / "w", time_limit=120)
    assert result.skipped == (header_only,)
    assert (result.width, result.height, result.tiles) == (1280, 360, 2)


@needs_root
async def test_compose_obeys_its_time_limit(recorded: Recorded, tmp_path: Path) -> None:
    with pytest.raises(ComposeTimeout):
        await compose(discover_tracks(recorded.rec_dir), tmp_path / "late.mp4", work_dir=tmp_path / "w",
                      time_limit=0.05)
    assert not (tmp_path / "late.mp4").exists()
    assert not (tmp_path / "late.mp4.part").exists()


# -- without Janus --------------------------------------------------------------------------------------


async def test_nothing_to_compose(tmp_path: Path) -> None:
    with pytest.raises(ComposeError):
        await compose([], tmp_path / "x.mp4", work_dir=tmp_path / "w")
    with pytest.raises(ComposeError):
        await compose([], tmp_path / "x.mp4", work_dir=tmp_path / "w", start_us=10_000_000, end_us=10_000_000)
    # A recording where nobody published: its start and end make a black, silent MP4.
    result = await compose([], tmp_path / "x.mp4", work_dir=tmp_path / "w", start_us=0, end_us=3_000_000)
    assert (result.width, result.height, result.tiles) == (640, 360, 0)
    assert abs(result.duration - 3.0) <= 0.2
    assert _codecs(_probe(tmp_path / "x.mp4")) == {"video": "h264", "audio": "aac"}


def test_discover_tracks_reads_meetkit_names_only(tmp_path: Path) -> None:
    for name, size in [
        ("7-camera-1-audio-0.mjr", 10), ("7-camera-1-video-1.mjr", 10), ("7-screen-3-video-0.mjr", 10),
        ("12-camera-2-video-1.mjr", 10), ("7-camera-5-video-1.mjr", 0),  # empty: ignored
        ("7-camera-1-data-2.mjr", 10), ("videoroom-1-user-7-123-audio-0.mjr", 10), ("notes.txt", 10),
    ]:
        (tmp_path / name).write_bytes(b"x" * size)
    assert [(t.path.name, t.kind, t.tile, t.role) for t in discover_tracks(tmp_path)] == [
        ("7-camera-1-audio-0.mjr", "audio", "7-camera", "camera"),
        ("7-camera-1-video-1.mjr", "video", "7-camera", "camera"),
        ("7-screen-3-video-0.mjr", "video", "7-screen", "screen"),
        ("12-camera-2-video-1.mjr", "video", "12-camera", "camera"),
    ]


@pytest.mark.parametrize(
    ("cameras", "screens", "size"),
    [
        (0, 0, (640, 360)), (1, 0, (640, 360)), (2, 0, (1280, 360)), (3, 0, (1280, 720)), (4, 0, (1280, 720)),
        (5, 0, (1920, 720)), (9, 0, (1920, 1080)), (10, 0, (1920, 810)), (16, 0, (1920, 1080)),
        (0, 1, (1280, 720)), (1, 1, (1280, 900)), (4, 1, (1280, 900)), (5, 1, (1280, 1080)),
        (8, 1, (1280, 1080)), (12, 1, (1280, 956)), (2, 2, (1280, 900)),
    ],
)
def test_layout_rule(cameras: int, screens: int, size: tuple[int, int]) -> None:
    tiles: list[tuple[str, Any]] = [(f"{i}-camera", "camera") for i in range(cameras)]
    tiles += [(f"{100 + i}-screen", "screen") for i in range(screens)]
    layout = plan_layout(tiles)
    assert (layout.width, layout.height) == size
    assert len(layout.cells) == cameras + screens
    for cell in layout.cells.values():  # inside the canvas, even sizes (yuv420p), no overlaps
        assert 0 <= cell.x and cell.x + cell.w <= layout.width and 0 <= cell.y and cell.y + cell.h <= layout.height
        assert cell.w % 2 == 0 and cell.h % 2 == 0
    cells = list(layout.cells.values())
    for i, a in enumerate(cells):
        for b in cells[i + 1:]:
            assert a.x + a.w <= b.x or b.x + b.w <= a.x or a.y + a.h <= b.y or b.y + b.h <= a.y
