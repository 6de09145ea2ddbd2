"""The room's recording options enforced by meetkit with a real Janus and aiortc peers (issue 10,
finding 6): ``is_recording_available: false`` refuses ``host.record`` although media works, and a
PATCH that turns it on reaches the running meeting; ``record_only_owner`` writes the host's streams
and any screen share, never a guest's camera, as the contract says."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from meetkit.client import MeetingsClient

from ..signalling_client import Peer
from ..support import Server, create_application, media_env, media_net, start_server, stop_server
from .peers import next_frame
from .test_media_meeting import loopback_ice, next_of  # noqa: F401  (fixture)

aiortc = pytest.importorskip("aiortc")
pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="the loopback media link needs root (CI runs as root)"),
              pytest.mark.usefixtures("loopback_ice")]


@pytest.fixture(scope="module")
def rec_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    media_net()
    srv = start_server("sqlite", tmp_path_factory.mktemp("media-rec-rules"), media_env(), tls=False)
    yield srv
    stop_server(srv)


@pytest.fixture(scope="module")
def api(rec_server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MeetingsClient]:
    app_id, key = create_application(rec_server, tmp_path_factory.mktemp("keys"))
    with MeetingsClient(rec_server.base_url, app_id, key) as c:
        yield c


async def publish(peer: Peer, kind: str) -> Any:
    """A video feed of ``kind`` up and announced: the peer connection (the caller closes it)."""
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
    from aiortc.mediastreams import VideoStreamTrack

    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTrack(VideoStreamTrack())
    await pc.setLocalDescription(await pc.createOffer())
    await peer.send({"type": "media.publish", "kind": kind, "sdp": pc.localDescription.sdp})
    answer = await next_of(peer, "media.answer", "media.error")
    assert answer["type"] == "media.answer", answer
    await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
    return pc


async def feeds_of(peer: Peer, participant_id: str, kinds: set[str], timeout: float = 15.0) -> dict[str, int]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        for frame in reversed(peer.frames):
            person = frame.get("participant") or {}
            if frame["type"] == "participant.updated" and person.get("participant_id") == participant_id:
                feeds = {k: v for k, v in person["feeds"].items() if v}
                if set(feeds) >= kinds:
                    return feeds
                break
        await asyncio.sleep(0.05)
    raise AssertionError(f"the feeds {kinds} were never announced")


async def answer_to(peer: Peer, message: dict[str, Any], *types: str, timeout: float = 10.0) -> dict[str, Any]:
    """The first frame of ``types`` after sending ``message`` (frames seen before it do not count)."""
    seen = len(peer.frames)
    await peer.send(message)
    return await next_frame(peer, seen, *types, timeout=timeout)


def host_token(room: dict[str, Any]) -> str:
    return str(room["_links"]["host_url"]["href"].split("participant_token=")[1])


async def test_recording_unavailable_is_refused_until_a_patch_offers_it(
        rec_server: Server, api: MeetingsClient) -> None:
    expires = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    room = api.create_room({"display_name": "no rec", "type": "long_term", "expires_at": expires,
                            "available_features": {"is_recording_available": False}})
    host = await Peer.open(rec_server.base_url, room["meeting_code"], "Hana", host_token=host_token(room))
    await host.expect("admitted")
    pc = await publish(host, "camera")
    try:
        await host.send({"type": "host.record", "active": True})
        assert (await host.expect("error"))["code"] == "not_available"
        api.update_room(room["id"], {"available_features": {"is_recording_available": True}})
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while True:  # the update travels on the bus: bounded wait until the meeting follows it
            reply = await answer_to(host, {"type": "host.record", "active": True}, "recording", "error")
            if reply["type"] == "recording":
                break
            assert loop.time() < deadline, "the PATCH never reached the meeting"
            await asyncio.sleep(0.1)
        await host.send({"type": "host.record", "active": False})
        await host.expect("recording", active=False)
    finally:
        await pc.close()
        await host.close()


async def test_record_only_owner_writes_the_host_and_screen_shares_never_a_guests_camera(
        rec_server: Server, api: MeetingsClient) -> None:
    room = api.create_room({"display_name": "owner only", "join_approval_level": "none",
                            "recording_options": {"record_only_owner": True}})
    base, code = rec_server.base_url, room["meeting_code"]
    host = await Peer.open(base, code, "Hana", host_token=host_token(room))
    session_id = (await host.expect("admitted"))["session_id"]
    guest = await Peer.open(base, code, "Gus")
    await guest.expect("admitted")
    pcs = [await publish(host, "camera"), await publish(guest, "camera"), await publish(guest, "screen")]
    try:
        host_feeds = await feeds_of(guest, host.id, {"camera"})
        guest_feeds = await feeds_of(host, guest.id, {"camera", "screen"})
        await host.send({"type": "host.record", "active": True})
        await host.expect("recording", active=True)
        [rec] = api.session_recordings(session_id)
        folder = rec_server.data_dir / "recordings" / rec["id"]
        expected = {f"{host_feeds['camera']}-camera", f"{guest_feeds['screen']}-screen"}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 15
        written: set[str] = set()
        while loop.time() < deadline and not expected <= written:
            written = {"-".join(p.name.split("-")[:2]) for p in folder.glob("*.mjr")}
            await asyncio.sleep(0.2)
        assert expected <= written, written
        assert f"{guest_feeds['camera']}-camera" not in written  # the guest's camera is never on disk
        await host.send({"type": "host.record", "active": False})
        await host.expect("recording", active=False)
    finally:
        for pc in pcs:
            await pc.close()
        await guest.close()
        await host.close()
