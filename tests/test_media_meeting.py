"""Media through meetkit's meeting socket with aiortc peers (no browser): publish, subscribe, decode,
the video-sender limit, and what a removed participant keeps (nothing). A real server runs its own
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

from .signalling_client import Peer
from .support import Server, create_application, free_port, start_server, stop_server

aiortc = pytest.importorskip("aiortc")
ROOT = Path(__file__).resolve().parent.parent
MEDIA_ADDR = "127.0.0.5"
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the loopback media link needs root (CI runs as root)")


@pytest.fixture(scope="module")
def limited_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    subprocess.run(["bash", str(ROOT / "scripts" / "media-net.sh")], check=True, capture_output=True)
    base = 40000 + free_port() % 20000
    env = {
        "MEETKIT_MEDIA_MODE": "managed",
        "MEETKIT_JANUS_WS_PORT": str(free_port()),
        "MEETKIT_JANUS_ADMIN_PORT": str(free_port()),
        "MEETKIT_MEDIA_ICE_INTERFACE": MEDIA_ADDR,
        "MEETKIT_MEDIA_CANDIDATE_NETWORKS": "127.0.0.0/8",
        "MEETKIT_MEDIA_RTP_PORTS": f"{base}-{base + 200}",
        "MEETKIT_MAX_VIDEO_SENDERS": "1",
    }
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
    seen = len(peer.frames)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        for frame in peer.frames[seen:]:
            if frame["type"] in types:
                return frame
        await asyncio.sleep(0.02)
    raise AssertionError(f"none of {types} within {timeout}s: {[f['type'] for f in peer.frames]}")


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


async def frames_within(track: Any, seconds: float) -> int:
    """Frames a track yields in ``seconds`` (stops early when the track ends)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    count = 0
    while (left := end - loop.time()) > 0:
        try:
            await asyncio.wait_for(track.recv(), left)
            count += 1
        except TimeoutError:
            break
        except aiortc.mediastreams.MediaStreamError:
            break
    return count


async def test_publish_subscribe_video_limit_and_removal(limited_server: Server, api: MeetingsClient,
                                                         loopback_ice: None) -> None:
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

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

        # The guest subscribes to the host's camera and decodes it.
        sub = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        pcs.append(sub)
        tracks: asyncio.Queue[Any] = asyncio.Queue()
        sub.on("track", tracks.put_nowait)
        await guest.send({"type": "media.subscribe", "feed": feed})
        offer = await guest.expect("media.offer", timeout=15)
        await sub.setRemoteDescription(RTCSessionDescription(offer["sdp"], "offer"))
        await sub.setLocalDescription(await sub.createAnswer())
        await guest.send({"type": "media.answer", "feed": feed, "sdp": sub.localDescription.sdp})
        async with asyncio.timeout(30):
            video = None
            while video is None:
                track = await tracks.get()
                if track.kind == "video":
                    video = track
            frame = await video.recv()
        assert frame.width > 0

        # Someone not in the meeting cannot subscribe; a feed nobody sends is refused.
        await guest.send({"type": "media.subscribe", "feed": 12345})
        assert (await guest.expect("media.error"))["code"] == "no_such_feed"

        # Removed: the guest's subscription stops receiving.
        await host.send({"type": "host.remove", "participant_id": guest.id})
        await guest.expect("removed")
        assert await frames_within(video, 1.5) >= 0  # drain what was already on its way
        assert await frames_within(video, 2.0) == 0, "the removed guest still receives video"
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
