"""Media through meetkit's meeting socket with aiortc peers (no browser): publish, receive (media.view),
decode, the video-sender limit, and what a removed participant keeps (nothing). A real server runs its own
Janus; every candidate is on 127.0.0.5 (scripts/media-net.sh)."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from meetkit.client import MeetingsClient

from ..signalling_client import Peer
from ..storage.test_s3_store import bucket, s3_env  # noqa: F401  (fixtures: the real S3 server)
from ..support import MEDIA_ADDR, Server, create_application, media_env, media_net, start_server, stop_server
from .peers import Receiver, next_frame

aiortc = pytest.importorskip("aiortc")
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the loopback media link needs root (CI runs as root)")


@pytest.fixture(scope="module")
def limited_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    media_net()
    env = media_env(MEETKIT_MAX_VIDEO_SENDERS="1")
    srv = start_server("sqlite", tmp_path_factory.mktemp("media-meeting"), env, tls=False)
    yield srv
    stop_server(srv)


@pytest.fixture(scope="module")
def api(limited_server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MeetingsClient]:
    app_id, key = create_application(limited_server, tmp_path_factory.mktemp("keys"))
    with MeetingsClient(limited_server.base_url, app_id, key) as c:
        yield c


@pytest.fixture
def loopback_ice(monkeypatch: pytest.MonkeyPatch) -> None:
    import aioice.ice

    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: [MEDIA_ADDR])


async def publish(peer: Peer, video: bool) -> tuple[Any, dict[str, Any]]:
    from aiortc import RTCConfiguration, RTCPeerConnection
    from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack

    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTrack(AudioStreamTrack())
    if video:
        pc.addTrack(VideoStreamTrack())
    await pc.setLocalDescription(await pc.createOffer())
    await peer.send({"type": "media.publish", "kind": "camera", "sdp": pc.localDescription.sdp})
    return pc, await next_of(peer, "media.answer", "media.error")


async def next_of(peer: Peer, *types: str, timeout: float = 15.0) -> dict[str, Any]:
    """The first frame of ``types`` from now on."""
    return await next_frame(peer, len(peer.frames), *types, timeout=timeout)


async def feed_of(peer: Peer, participant_id: str, timeout: float = 15.0) -> int:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        for frame in reversed(peer.frames):
            person = frame.get("participant") or {}
            if frame["type"] == "participant.updated" and person.get("participant_id") == participant_id \
                    and person["feeds"].get("camera"):
                return int(person["feeds"]["camera"])
        await asyncio.sleep(0.02)
    raise AssertionError("the feed was never announced")


async def test_publish_subscribe_video_limit_and_removal(limited_server: Server, api: MeetingsClient,
                                                         loopback_ice: None) -> None:
    from aiortc import RTCSessionDescription

    room = api.create_room({"display_name": "aiortc", "join_approval_level": "none"})
    token = room["_links"]["host_url"]["href"].split("participant_token=")[1]
    base, code = limited_server.base_url, room["meeting_code"]
    host = await Peer.open(base, code, "Hana", host_token=token)
    assert (await host.expect("admitted"))["video_allowed"] is True
    guest = await Peer.open(base, code, "Gus")
    assert (await guest.expect("admitted"))["video_allowed"] is True
    pcs: list[Any] = []
    try:
        host_pc, answer = await publish(host, video=True)
        pcs.append(host_pc)
        assert answer["type"] == "media.answer"
        candidates = [x for x in answer["sdp"].splitlines() if x.startswith("a=candidate")]
        assert candidates and all(f" {MEDIA_ADDR} " in x for x in candidates)
        await host_pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
        feed = await feed_of(guest, host.id)

        # The limit is one video sender: the guest's camera is refused, audio alone is fine.
        guest_pc, refused = await publish(guest, video=True)
        await guest_pc.close()
        assert refused["type"] == "media.error" and refused["code"] == "video_limit"
        guest_pc, ok = await publish(guest, video=False)
        pcs.append(guest_pc)
        assert ok["type"] == "media.answer"
        await guest_pc.setRemoteDescription(RTCSessionDescription(ok["sdp"], "answer"))
        late = await Peer.open(base, code, "Lou")
        admitted = await late.expect("admitted")
        assert admitted["video_allowed"] is False and "camera off" in admitted["message"]
        await late.send({"type": "leave"})

        # The guest's one subscriber PC: the host's audio comes unasked; the video once the page shows it.
        receiver = Receiver(guest)
        pcs.append(receiver)
        await guest.send({"type": "media.view", "tiles": [{"feed": feed, "width": 640, "height": 360}]})
        async with asyncio.timeout(30):
            while receiver.video_frames.get(host.id, 0) == 0:
                await asyncio.sleep(0.05)
        assert receiver.video_size[host.id][0] > 0
        kinds = {(s["type"], s.get("participant_id"), s.get("kind")) for s in receiver.streams.values()}
        assert {("audio", host.id, "camera"), ("video", host.id, "camera")} <= kinds, kinds

        # An ICE restart of the subscriber PC: a new offer on the same PC, and the video goes on.
        offers, frames = receiver.offers, receiver.video_frames[host.id]
        await guest.send({"type": "media.ice_restart", "target": "subscriber"})
        async with asyncio.timeout(30):
            while receiver.offers == offers or receiver.video_frames[host.id] < frames + 10:
                await asyncio.sleep(0.05)

        # A tile of a feed nobody sends subscribes nothing; an answer without an offer is refused.
        await guest.send({"type": "media.view", "tiles": [{"feed": 12345, "width": 640, "height": 360},
                                                          {"feed": feed, "width": 640, "height": 360}]})
        await guest.send({"type": "media.answer", "sdp": "v=0"})
        await guest.expect("media.error", code="no_offer")
        assert 12345 not in {s.get("feed") for s in receiver.streams.values()}

        # Removed: the guest's subscription stops receiving.
        await host.send({"type": "host.remove", "participant_id": guest.id})
        await guest.expect("removed")
        await asyncio.sleep(1.5)  # what was already on its way
        before = receiver.video_frames[host.id]
        await asyncio.sleep(2.0)
        assert receiver.video_frames[host.id] == before, "the removed guest still receives video"
    finally:
        for pc in pcs:
            await pc.close()
        await host.close()


async def test_janus_killed_is_restarted_and_browsers_are_told_to_reconnect_media(
        limited_server: Server, api: MeetingsClient, loopback_ice: None) -> None:
    from aiortc import RTCSessionDescription

    room = api.create_room({"display_name": "restart", "join_approval_level": "none"})
    token = room["_links"]["host_url"]["href"].split("participant_token=")[1]
    host = await Peer.open(limited_server.base_url, room["meeting_code"], "Hana", host_token=token)
    await host.expect("admitted")
    janus_dir = str(limited_server.data_dir.resolve() / "janus")
    pids = subprocess.run(["pgrep", "-f", janus_dir], capture_output=True, text=True, timeout=10).stdout.split()
    assert pids, "meetkit's Janus is not running"
    subprocess.run(["kill", "-9", *pids], check=True, timeout=10)
    await host.expect("media.reset", timeout=30)
    pc, answer = await publish(host, video=True)
    try:
        assert answer["type"] == "media.answer"
        await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
        await feed_of(host, host.id)
    finally:
        await pc.close()
        await host.close()


async def test_a_crash_mid_recording_still_yields_what_was_captured(tmp_path: Path, loopback_ice: None,
                                                                   s3_env: dict[str, str],  # noqa: F811
                                                                   bucket: str) -> None:  # noqa: F811
    """SIGKILL meetkit (its Janus dies with it) while a recording runs; after a restart the recording is
    stopped at the last moment its tracks were written and composed into an MP4 of that length. The
    server keeps its objects in S3 (the real Ceph RGW of test_s3_store): the MP4 goes there and the
    download link redirects to it."""
    import json as jsonlib

    import httpx
    from aiortc import RTCSessionDescription

    media_net()
    folder = tmp_path / "crash"
    storage = {
        "MEETKIT_STORAGE_BACKEND": "s3",
        "MEETKIT_S3_ENDPOINT_URL": s3_env["MEETKIT_TEST_S3_ENDPOINT_URL"],
        "MEETKIT_S3_REGION": s3_env["MEETKIT_TEST_S3_REGION"],
        "MEETKIT_S3_BUCKET": bucket,
        "MEETKIT_S3_ACCESS_KEY_ID": s3_env["MEETKIT_TEST_S3_ACCESS_KEY_ID"],
        "MEETKIT_S3_SECRET_ACCESS_KEY": s3_env["MEETKIT_TEST_S3_SECRET_ACCESS_KEY"],
    }
    srv = start_server("sqlite", folder, media_env() | storage, tls=False)
    restarted: Server | None = None
    pc: Any = None
    try:
        app_id, key = await asyncio.to_thread(create_application, srv, tmp_path)
        with MeetingsClient(srv.base_url, app_id, key) as api:
            room = api.create_room({"display_name": "crash", "join_approval_level": "none"})
        token = room["_links"]["host_url"]["href"].split("participant_token=")[1]
        host = await Peer.open(srv.base_url, room["meeting_code"], "Hana", host_token=token)
        admitted = await host.expect("admitted")
        pc, answer = await publish(host, video=True)
        await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
        await feed_of(host, host.id)
        await host.send({"type": "host.record", "active": True})
        await host.expect("recording", active=True)
        await asyncio.sleep(5)
        srv.process.kill()
        srv.process.wait(timeout=10)
        await pc.close()
        pc = None
        restarted = start_server("sqlite", folder, media_env() | storage, database_url=srv.database_url,
                                 tls=False)
        with MeetingsClient(restarted.base_url, app_id, key) as api:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 90
            recs: list[dict[str, Any]] = []
            while loop.time() < deadline:
                recs = api.request("GET", f"/sessions/{admitted['session_id']}/recordings").json()[
                    "_embedded"]["recordings"]
                if recs and recs[0]["status"] == "uploaded":
                    break
                await asyncio.sleep(0.5)
            assert recs and recs[0]["status"] == "uploaded", recs
            rec = recs[0]
        mp4 = tmp_path / "crash.mp4"
        got = httpx.get(rec["_links"]["url"]["href"], follow_redirects=True, timeout=60)
        assert got.status_code == 200 and got.history and got.history[0].status_code == 307
        assert got.url.port == int(s3_env["MEETKIT_TEST_S3_ENDPOINT_URL"].rsplit(":", 1)[1].strip("/"))
        mp4.write_bytes(got.content)
        probe = jsonlib.loads(subprocess.run(
            ["ffprobe", "-v", "error", "-of", "json", "-show_streams", "-show_format", str(mp4)],
            capture_output=True, text=True, timeout=60, check=True).stdout)
        assert {s["codec_name"] for s in probe["streams"]} == {"h264", "aac"}
        from meetkit.domain.dates import parse_date

        length = (parse_date(rec["ended_at"]) - parse_date(rec["started_at"])).total_seconds()
        assert 3.5 <= length <= 7.5, rec
        assert abs(float(probe["format"]["duration"]) - length) <= 1.0
    finally:
        if pc is not None:
            await pc.close()
        if srv.process.poll() is None:
            stop_server(srv)
        if restarted is not None:
            stop_server(restarted)


async def test_an_external_janus_by_url(tmp_path: Path, loopback_ice: None) -> None:
    """MEETKIT_MEDIA_MODE=external: meetkit uses a Janus it did not start (here one run by the test)."""
    from aiortc import RTCSessionDescription

    from meetkit.config import Settings
    from meetkit.media.supervisor import JanusSupervisor

    media_net()
    env = media_env()
    janus = JanusSupervisor(Settings(data_dir=tmp_path / "janus-host", janus_ws_port=int(env["MEETKIT_JANUS_WS_PORT"]),
                                     janus_admin_port=int(env["MEETKIT_JANUS_ADMIN_PORT"]),
                                     media_rtp_ports=env["MEETKIT_MEDIA_RTP_PORTS"], media_ice_interface=MEDIA_ADDR,
                                     _env_file=None))  # type: ignore[call-arg]
    await janus.start()
    srv = None
    pc: Any = None
    try:
        srv = await asyncio.to_thread(start_server, "sqlite", tmp_path / "srv", {
            "MEETKIT_MEDIA_MODE": "external", "MEETKIT_JANUS_URL": janus.url,
            "MEETKIT_JANUS_ADMIN_KEY": janus.admin_key or "", "MEETKIT_MEDIA_CANDIDATE_NETWORKS": "127.0.0.0/8"},
            tls=False)
        app_id, key = await asyncio.to_thread(create_application, srv, tmp_path)
        with MeetingsClient(srv.base_url, app_id, key) as api:
            room = api.create_room({"display_name": "external", "join_approval_level": "none"})
        token = room["_links"]["host_url"]["href"].split("participant_token=")[1]
        host = await Peer.open(srv.base_url, room["meeting_code"], "Hana", host_token=token)
        await host.expect("admitted")
        pc, answer = await publish(host, video=True)
        assert answer["type"] == "media.answer"
        await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
        await feed_of(host, host.id)
        assert not [f for f in host.frames if f["type"] == "media.error"]
        await host.close()
    finally:
        if pc is not None:
            await pc.close()
        if srv is not None:
            await asyncio.to_thread(stop_server, srv)
        await janus.stop()
