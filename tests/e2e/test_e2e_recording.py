"""Recording end to end: a two-party meeting in Chromium with fake devices, recorded through Janus,
composed by the pipeline into one MP4, downloaded through its signed link and checked with ffprobe;
record_only_owner keeps one tile; the recording callbacks arrive signed and in order; a simulcast
camera is recorded at its best layer and composed into its tile."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page

from meetkit.client import MeetingsClient

from .. import browser as b
from ..peer_stats import PAGE_STATS_JS, RECORD_PEERS_JS, SIMULCAST_JS
from ..receiver import Receiver
from ..support import Server, create_application, media_env, media_net, server_container, start_server, stop_server

pytestmark = [
    pytest.mark.skipif(not b.chromium_available(), reason="Debian chromium is installed by scripts/services.sh"),
    pytest.mark.skipif(os.geteuid() != 0, reason="the loopback media link needs root (CI runs as root)"),
]
ONE_TILE = (640, 360)  # the composition's tile size (docs/recording.md)


@pytest.fixture(scope="module")
def rec_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    media_net()
    # The .mjr tracks stay after composing, for the simulcast test to read them.
    env = media_env(MEETKIT_RESUME_GRACE="3", MEETKIT_ALLOW_PRIVATE_CALLBACK_TARGETS="true",
                    MEETKIT_WEBHOOK_POLL_INTERVAL="0.1", MEETKIT_KEEP_RECORDING_TRACKS="true")
    srv = start_server("sqlite", tmp_path_factory.mktemp("e2e-rec"), env, tls=False)
    yield srv
    stop_server(srv)


@pytest.fixture(scope="module")
def api(rec_server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MeetingsClient]:
    app_id, key = create_application(rec_server, tmp_path_factory.mktemp("keys"))
    with MeetingsClient(rec_server.base_url, app_id, key) as c:
        yield c


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


async def two_party(chromium: Browser, origin: str, room: dict[str, Any]) -> tuple[Page, Page]:
    host_ctx = await b.new_context(chromium, origin)
    guest_ctx = await b.new_context(chromium, origin)
    host, guest = await host_ctx.new_page(), await guest_ctx.new_page()
    await b.join(host, room["_links"]["host_url"]["href"], "Hana Host")
    await b.wait_state(host, "joined")
    await b.join(guest, room["_links"]["guest_url"]["href"], "Gus Guest")
    await b.wait_state(guest, "joined")
    await b.wait_decoding(host)
    await b.wait_decoding(guest)
    return host, guest


def ffprobe(path: Path) -> dict[str, Any]:
    out = subprocess.run(["ffprobe", "-v", "error", "-of", "json", "-show_streams", "-show_format", str(path)],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    result: dict[str, Any] = json.loads(out)
    return result


async def uploaded(api: MeetingsClient, session_id: str, timeout: float = 120.0) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    recs: list[dict[str, Any]] = []
    while loop.time() < deadline:
        resp = api.request("GET", f"/sessions/{session_id}/recordings")
        recs = resp.json()["_embedded"]["recordings"]
        if recs and recs[0]["status"] == "uploaded":
            return recs[0]
        await asyncio.sleep(0.5)
    raise AssertionError(f"no uploaded recording within {timeout}s: {recs}")


def download(rec: dict[str, Any], folder: Path) -> Path:
    path = folder / f"{rec['id']}.mp4"
    with httpx.stream("GET", rec["_links"]["url"]["href"], timeout=60) as resp:
        assert resp.status_code == 200, resp.read()
        with path.open("wb") as fh:
            for chunk in resp.iter_bytes():
                fh.write(chunk)
    return path


def seconds(rec: dict[str, Any]) -> float:
    from meetkit.domain.dates import parse_date

    return (parse_date(rec["ended_at"]) - parse_date(rec["started_at"])).total_seconds()


async def session_of(server: Server, room_id: str) -> str:
    from sqlalchemy import select

    from meetkit.storage import tables as t

    async with server_container(server) as c, c.sessions() as db:
        session_id = await db.scalar(select(t.Session.id).where(t.Session.room_id == room_id,
                                                                t.Session.ended_at.is_(None)))
    assert session_id is not None
    return str(session_id)


async def test_recorded_meeting_becomes_an_mp4_with_both_parties(
        rec_server: Server, api: MeetingsClient, chromium: Browser, receiver: Receiver, tmp_path: Path) -> None:
    room = api.create_room({"display_name": "Recorded", "join_approval_level": "none",
                            "callback_urls": {"recordings_callback_url": receiver.url}})
    host, guest = await two_party(chromium, rec_server.base_url, room)
    session_id = await session_of(rec_server, room["id"])
    await host.click("#btn-record")
    await guest.wait_for_selector("#recording-indicator", state="visible", timeout=10000)
    await asyncio.sleep(21)
    await host.click("#btn-record")
    await guest.wait_for_selector("#recording-indicator", state="hidden", timeout=10000)
    rec = await uploaded(api, session_id)
    assert seconds(rec) >= 20
    probe = ffprobe(download(rec, tmp_path))
    kinds = {s["codec_type"]: s for s in probe["streams"]}
    assert kinds["video"]["codec_name"] == "h264" and kinds["audio"]["codec_name"] == "aac"
    assert abs(float(probe["format"]["duration"]) - seconds(rec)) <= 1.0, (probe["format"], rec)
    assert (kinds["video"]["width"], kinds["video"]["height"]) != ONE_TILE  # two people, two tiles
    # The callbacks: started, ended, uploaded, in that order, with the same recording.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 15
    while len(receiver.hits) < 3 and loop.time() < deadline:
        await asyncio.sleep(0.1)
    events = [json.loads(h.body) for h in receiver.hits]
    assert [e["event"] for e in events] == ["recording:started", "recording:ended", "recording:uploaded"]
    assert {e["recording_id"] for e in events} == {rec["id"]}
    assert events[2]["url"].startswith(rec_server.base_url) and events[2]["duration"] >= 20
    for ctx in (host.context, guest.context):
        await ctx.close()


async def test_record_only_owner_auto_record_keeps_one_tile_and_cannot_be_stopped(
        rec_server: Server, api: MeetingsClient, chromium: Browser, tmp_path: Path) -> None:
    room = api.create_room({"display_name": "Owner only", "join_approval_level": "none",
                            "recording_options": {"auto_record": True, "record_only_owner": True}})
    host, guest = await two_party(chromium, rec_server.base_url, room)
    session_id = await session_of(rec_server, room["id"])
    await guest.wait_for_selector("#recording-indicator", state="visible", timeout=10000)
    await asyncio.sleep(6)
    await host.evaluate("() => window.__meetkit.socket.send(JSON.stringify({type: 'host.record', active: false}))")
    await asyncio.sleep(0.5)
    assert await guest.is_visible("#recording-indicator")  # auto_record cannot be stopped
    await host.click("#btn-end")
    confirm = host.locator("#confirm-end")
    if await confirm.count():
        await confirm.click()
    await b.wait_state(guest, "ended")
    rec = await uploaded(api, session_id)
    probe = ffprobe(download(rec, tmp_path))
    video = next(s for s in probe["streams"] if s["codec_type"] == "video")
    assert (video["width"], video["height"]) == ONE_TILE
    assert abs(float(probe["format"]["duration"]) - seconds(rec)) <= 1.0
    for ctx in (host.context, guest.context):
        await ctx.close()


# Scales the camera's best simulcast layer (rid h) down by this much, on every connection sending
# it: the recorded substream changes resolution with a keyframe, like a layer Janus switches to.
# (Pausing the layer instead makes Janus 1.1.2 record the next layer down, but that layer's frames
# decode only from its next keyframe, which may not come for seconds: docs/recording.md.)
LAYER_H_JS = """async (scale) => {
  for (const pc of window.__peers || []) {
    for (const sender of pc.getSenders()) {
      if (!sender.track || sender.track.kind !== 'video') continue;
      const p = sender.getParameters();
      const h = (p.encodings || []).find(e => e.rid === 'h');
      if (!h) continue;
      h.scaleResolutionDownBy = scale;
      await sender.setParameters(p);
    }
  }
}"""


async def record_dir_of(server: Server, recording_id: str) -> Path:
    from meetkit.storage import tables as t

    async with server_container(server) as c, c.sessions() as db:
        rec = await db.get(t.Recording, recording_id)
    assert rec is not None and rec.record_dir, rec
    return Path(rec.record_dir)


def frame_sizes(mjr: Path, folder: Path) -> list[tuple[int, int]]:
    """The size of every frame Janus recorded in a video .mjr (converted without re-encoding)."""
    webm = folder / f"{mjr.stem}.webm"
    subprocess.run(["janus-pp-rec", str(mjr), str(webm)], capture_output=True, timeout=120, check=True)
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "frame=width,height",
                          "-of", "csv=p=0", str(webm)], capture_output=True, text=True, timeout=120, check=True).stdout
    return [(int(w), int(h)) for w, h in (line.split(",")[:2] for line in out.split() if line.count(",") >= 1)]


async def test_simulcast_camera_is_recorded_at_its_best_layer_and_composed_into_its_tile(
        rec_server: Server, api: MeetingsClient, chromium: Browser, tmp_path: Path) -> None:
    # Janus records a simulcast publisher like a viewer aiming at the highest substream, so the .mjr
    # may start on a lower layer and grow (docs/recording.md); the tile must not care.
    room = api.create_room({"display_name": "Simulcast recorded", "join_approval_level": "none"})
    ctx = await b.new_context(chromium, rec_server.base_url)
    await ctx.add_init_script(RECORD_PEERS_JS)
    await ctx.add_init_script(SIMULCAST_JS)  # until the meeting UI publishes simulcast by itself
    host = await ctx.new_page()
    await b.join(host, room["_links"]["host_url"]["href"], "Sam Simulcast")
    await b.wait_state(host, "joined")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    sent: dict[str, Any] = await host.evaluate(PAGE_STATS_JS)
    while (len(set(sent["rids"])) < 3 or sent["sent"].get("h", 0) < 1280) and loop.time() < deadline:
        await asyncio.sleep(0.5)
        sent = await host.evaluate(PAGE_STATS_JS)
    assert set(sent["rids"]) == {"h", "m", "l"} and sent["sent"]["h"] == 1280, sent
    session_id = await session_of(rec_server, room["id"])
    await host.click("#btn-record")
    await host.wait_for_selector("#recording-indicator", state="visible", timeout=10000)
    await asyncio.sleep(4)
    await host.evaluate(LAYER_H_JS, 2)  # the best layer shrinks for a while (as under congestion)
    await asyncio.sleep(4)
    await host.evaluate(LAYER_H_JS, 1)
    await asyncio.sleep(4)
    await host.click("#btn-record")
    await host.wait_for_selector("#recording-indicator", state="hidden", timeout=10000)
    rec = await uploaded(api, session_id)
    probe = ffprobe(download(rec, tmp_path))
    video = next(s for s in probe["streams"] if s["codec_type"] == "video")
    assert (video["width"], video["height"]) == ONE_TILE  # one camera, one tile: the canvas
    videos = sorted((await record_dir_of(rec_server, rec["id"])).glob("*video*.mjr"))
    assert len(videos) == 1, videos
    sizes = frame_sizes(videos[0], tmp_path)
    # The best layer at full size, then smaller, then full again: all in one file, all in one tile.
    best = (1280, 720)
    assert sizes and max(sizes) == best, sorted(set(sizes))
    lower = [i for i, size in enumerate(sizes) if size[0] < best[0]]
    assert lower and lower[0] > sizes.index(best) and best in sizes[lower[-1]:], sorted(set(sizes))
    assert abs(float(probe["format"]["duration"]) - seconds(rec)) <= 1.0, (probe["format"], rec)
    await ctx.close()
