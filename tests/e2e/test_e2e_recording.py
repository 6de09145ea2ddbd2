"""Recording end to end: a two-party meeting in Chromium with fake devices, recorded through Janus,
composed by the pipeline into one MP4, downloaded through its signed link and checked with ffprobe;
record_only_owner keeps one tile; the recording callbacks arrive signed and in order."""

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
    env = media_env(MEETKIT_RESUME_GRACE="3", MEETKIT_ALLOW_PRIVATE_CALLBACK_TARGETS="true",
                    MEETKIT_WEBHOOK_POLL_INTERVAL="0.1")
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
