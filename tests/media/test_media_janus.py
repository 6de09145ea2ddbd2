"""The media layer against a real Janus, run by JanusSupervisor in a temporary data folder.

All traffic stays in 127.0.0.0/8: Janus listens on 127.0.0.1 and gathers ICE candidates only on
127.0.0.5, carried by the veth mkv0 that scripts/media-net.sh sets up (ICE skips loopback interfaces).
Needs root for that; CI runs as root.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from meetkit.config import Settings
from meetkit.media import JanusClient, JanusError, JanusSupervisor, MediaEvent, MediaServer
from meetkit.media.videoroom import PLUGIN, UNAUTHORIZED

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the media test interface (veth mkv0) needs root")

MEDIA_ADDR = "127.0.0.5"
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def janus_settings(media_net: None, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        data_dir=tmp_path_factory.mktemp("media"),
        janus_ws_port=_free_port(),
        janus_admin_port=_free_port(),
        media_rtp_ports="42000-42999",
        media_ice_interface=MEDIA_ADDR,
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def supervisor(janus_settings: Settings) -> AsyncIterator[JanusSupervisor]:
    sup = JanusSupervisor(janus_settings, backoff_min=0.2)
    await sup.start()
    yield sup
    await sup.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def media(supervisor: JanusSupervisor) -> AsyncIterator[MediaServer]:
    server = MediaServer(supervisor.url, admin_key=supervisor.admin_key, api_secret=None)
    await server.start()
    yield server
    await server.stop()


async def _wait_for(predicate: object, seconds: float = 10.0) -> None:
    assert callable(predicate)
    async with asyncio.timeout(seconds):
        while not predicate():
            await asyncio.sleep(0.05)


# -- configuration --------------------------------------------------------------------------------


def test_config_binds_loopback_only_and_secrets_are_private(supervisor: JanusSupervisor) -> None:
    folder = supervisor.folder
    texts = {p.name: p.read_text() for p in folder.glob("*.jcfg")}
    assert set(texts) == {"janus.jcfg", "janus.transport.websockets.jcfg", "janus.plugin.videoroom.jcfg"}
    for name, text in texts.items():
        assert "0.0.0.0" not in text, name
        assert "stun_server" not in text, name
    ws = texts["janus.transport.websockets.jcfg"]
    assert 'ws_ip = "127.0.0.1"' in ws and 'admin_ws_ip = "127.0.0.1"' in ws and "wss = false" in ws
    core = texts["janus.jcfg"]
    assert f'ice_enforce_list = "{MEDIA_ADDR}"' in core and "ignore_mdns = true" in core
    assert 'rtp_port_range = "42000-42999"' in core
    assert "libjanus_http.so" in core and "libjanus_audiobridge.so" in core  # disabled
    assert "janusoverlord" not in core  # the Debian default admin secret
    assert f'admin_key = "{supervisor.admin_key}"' in texts["janus.plugin.videoroom.jcfg"]
    assert "lock_rtp_forward = true" in texts["janus.plugin.videoroom.jcfg"]
    for name in ("admin_key", "admin_secret", *texts):
        assert (folder / name).stat().st_mode & 0o777 == 0o600, name
    assert folder.stat().st_mode & 0o777 == 0o700

    # What the running Janus really listens on (TCP): loopback only.
    pid = supervisor.pid
    out = subprocess.run(["ss", "-Htlnp"], capture_output=True, text=True, timeout=10, check=True).stdout
    local = [line.split()[3] for line in out.splitlines() if f"pid={pid}," in line]
    assert local, out
    assert all(addr.startswith("127.0.0.1:") for addr in local), local


# -- rooms and tokens -----------------------------------------------------------------------------


async def test_room_create_is_idempotent_and_destroy(media: MediaServer) -> None:
    await media.create_room(7001, publishers=4, description="one")
    await media.create_room(7001, publishers=4, description="one")
    assert await media.room_exists(7001)
    await media.destroy_room(7001)
    await media.destroy_room(7001)
    assert not await media.room_exists(7001)


async def test_join_needs_an_allowed_token(media: MediaServer) -> None:
    room = 7002
    await media.create_room(room, publishers=4)
    await media.allow(room, "tok-real-aaaa")
    for token in ("tok-never-allowed", "tok-real-aaab", ""):
        with pytest.raises(JanusError) as refused:
            await media.open_participant(room, token)
        assert refused.value.code == UNAUTHORIZED
    assert await media.participants(room) == []

    await media.allow(room, "tok-late")
    events: list[MediaEvent] = []
    participant = await media.open_participant(room, "tok-late", on_event=events.append)
    assert [p["id"] for p in await media.participants(room)] == [participant.presence_id]

    # Withdraw the token, kick: the participant is out and cannot come back with it.
    await media.disallow(room, "tok-late")
    await media.kick(room, participant.presence_id)
    await media.kick(room, participant.presence_id)  # idempotent
    await _wait_for(lambda: any(e.type == "kicked" and e.role == "presence" for e in events))
    assert await media.participants(room) == []
    with pytest.raises(JanusError) as refused:
        await media.open_participant(room, "tok-late")
    assert refused.value.code == UNAUTHORIZED

    await participant.close()
    await participant.close()  # idempotent
    await media.destroy_room(room)


# -- real media (aiortc) --------------------------------------------------------------------------


async def test_media_flows_through_janus(
    media: MediaServer, supervisor: JanusSupervisor, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pytest.importorskip("aiortc")
    import aioice.ice
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
    from aiortc.mediastreams import AudioStreamTrack, MediaStreamError, MediaStreamTrack, VideoStreamTrack

    # The test peers gather candidates on 127.0.0.5 only (never this machine's other addresses) and
    # use no STUN server.
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: [MEDIA_ADDR])
    config = RTCConfiguration(iceServers=[])

    room, feed = 7003, 101
    await media.create_room(room, publishers=4)
    await media.allow(room, "tok-alice")
    await media.allow(room, "tok-bob")
    alice_events: list[MediaEvent] = []
    bob_events: list[MediaEvent] = []
    alice = await media.open_participant(room, "tok-alice", on_event=alice_events.append)
    bob = await media.open_participant(room, "tok-bob", on_event=bob_events.append)
    unasked: list[str] = []
    bob.subscriber.on_offer = unasked.append
    pub = RTCPeerConnection(config)
    sub = RTCPeerConnection(config)
    try:
        pub.addTrack(AudioStreamTrack())
        pub.addTrack(VideoStreamTrack())
        await pub.setLocalDescription(await pub.createOffer())  # aiortc: returns after gathering
        answer = await alice.publish("camera", feed, "Alice", pub.localDescription.sdp)
        # Janus (half-trickle) puts its own candidates in the SDP, on the enforced address only.
        candidates = [line for line in answer.splitlines() if line.startswith("a=candidate")]
        assert candidates and all(f" {MEDIA_ADDR} " in c for c in candidates), candidates
        assert "VP8" in answer and "opus" in answer
        await pub.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        assert alice.feeds == {"camera": feed}
        # A feed can be subscribed to once its PeerConnection is up (before: 428, no such feed).
        await alice.wait_live("camera", 15)

        tracks: asyncio.Queue[MediaStreamTrack] = asyncio.Queue()
        sub.on("track", tracks.put_nowait)
        # Bob's one multistream subscriber handle: the first subscription joins, with an offer.
        assert bob.subscriber.handle is None
        offer = await bob.subscriber.subscribe([{"feed": feed}])
        assert offer is not None and f" {MEDIA_ADDR} " in offer
        assert [(s.type, s.feed, s.feed_mid) for s in bob.subscriber.streams] == [
            ("audio", feed, "0"), ("video", feed, "1")]
        assert bob.subscriptions == [feed]
        await sub.setRemoteDescription(RTCSessionDescription(offer, "offer"))
        await sub.setLocalDescription(await sub.createAnswer())
        await bob.subscriber.start(sub.localDescription.sdp)

        async with asyncio.timeout(30):
            video = None
            while video is None:
                track = await tracks.get()
                if track.kind == "video":
                    video = track
            frame = await video.recv()
        assert frame.width == 640 and frame.height == 480
        await _wait_for(lambda: any(e.type == "webrtcup" and e.role == "subscriber" for e in bob_events))
        # Janus's ICE/RTP sockets are on the enforced address only.
        out = subprocess.run(["ss", "-Hulnp"], capture_output=True, text=True, timeout=10, check=True).stdout
        udp = [line.split()[3] for line in out.splitlines() if f"pid={supervisor.pid}," in line]
        assert udp and all(addr.startswith(f"{MEDIA_ADDR}:") for addr in udp), udp
        # "publisher" turns true once the PeerConnection is up, not at configure.
        assert {p["id"]: p["publisher"] for p in await media.participants(room)}[feed] is True

        # Renegotiation on the same handle: the video unsubscribed stays as an inactive m-line, and
        # subscribing it again reuses that m-line. A layer is chosen with configure (no SDP).
        async def answer(offer: str | None) -> None:
            assert offer is not None
            await sub.setRemoteDescription(RTCSessionDescription(offer, "offer"))
            await sub.setLocalDescription(await sub.createAnswer())
            await bob.subscriber.start(sub.localDescription.sdp)

        await answer(await bob.subscriber.update([], [{"sub_mid": "1"}]))
        assert [(s.mid, s.active) for s in bob.subscriber.streams] == [("0", True), ("1", False)]
        await answer(await bob.subscriber.update([{"feed": feed, "mid": "1"}], []))
        assert [(s.mid, s.active, s.feed) for s in bob.subscriber.streams] == [("0", True, feed), ("1", True, feed)]
        await bob.subscriber.configure([{"mid": "1", "substream": 0, "temporal": 2, "fallback": 250000}])
        async with asyncio.timeout(20):  # frames again (aiortc may give the m-line a new track)
            while True:
                while not tracks.empty():
                    if (track := tracks.get_nowait()).kind == "video":
                        video = track
                try:
                    await asyncio.wait_for(video.recv(), 1)
                    break
                except (TimeoutError, MediaStreamError):
                    await asyncio.sleep(0.1)

        # A raw subscription (not through MediaParticipant) without a valid private_id is refused.
        client = await JanusClient.connect(supervisor.url)
        try:
            handle = await (await client.create_session()).attach(PLUGIN)
            for extra in ({}, {"private_id": 12345}):
                with pytest.raises(JanusError) as refused:
                    await handle.message(
                        {"request": "join", "ptype": "subscriber", "room": room, "streams": [{"feed": feed}],
                         "token": "tok-bob", **extra}
                    )
                assert refused.value.code == UNAUTHORIZED
        finally:
            await client.close()

        # Recording on demand: one .mjr file per track in the folder given.
        rec_dir = tmp_path / "rec"
        rec_dir.mkdir()
        await media.set_recording(room, True, str(rec_dir))
        await _wait_for(lambda: len([p for p in rec_dir.glob("*.mjr") if p.stat().st_size > 0]) >= 2)
        await media.set_recording(room, False, None)

        # Removing Alice: token withdrawn, her feed kicked; Janus hangs up her camera.
        await media.disallow(room, "tok-alice")
        await media.kick(room, feed)
        await _wait_for(lambda: any(e.type == "kicked" and e.role == "camera" for e in alice_events))
        await _wait_for(lambda: any(e.type == "hangup" and e.role == "camera" for e in alice_events))
        assert feed not in [p["id"] for p in await media.participants(room)]
        with pytest.raises(JanusError) as refused:
            await alice.publish("camera", feed, "Alice", pub.localDescription.sdp)
        assert refused.value.code == UNAUTHORIZED

        print("\nBob's streams after Alice's feed was kicked:", bob.subscriber.streams, len(unasked), "offers")
    finally:
        await pub.close()
        await sub.close()
        await alice.close()
        await bob.close()
        await media.destroy_room(room)


async def test_a_stale_janus_from_a_dead_meetkit_is_replaced(
    media_net: None, tmp_path_factory: pytest.TempPathFactory
) -> None:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("media-stale"), janus_ws_port=_free_port(), janus_admin_port=None,
        media_ice_interface=MEDIA_ADDR, _env_file=None,  # type: ignore[call-arg]
    )
    first = JanusSupervisor(settings)
    await first.start()
    orphan = first._proc
    assert orphan is not None and first._watcher is not None
    first._watcher.cancel()  # meetkit "dies": nobody watches or stops this Janus any more
    second = JanusSupervisor(settings)
    try:
        await second.start()  # would fail on the busy port if the stale Janus were left running
        async with asyncio.timeout(10):
            await orphan.wait()
        assert second.pid not in (None, orphan.pid)
        client = await JanusClient.connect(second.url)
        assert (await client.info())["version_string"]
        await client.close()
    finally:
        await second.stop()
        await first.stop()


# -- restart (keep last: it replaces the module's Janus process) ------------------------------------


async def test_supervisor_restarts_janus_after_sigkill(supervisor: JanusSupervisor, media: MediaServer) -> None:
    room = 7009
    await media.create_room(room, publishers=2)
    await media.allow(room, "tok-after-restart")
    stale = await media.open_participant(room, "tok-after-restart")

    supervisor_restarted = asyncio.Event()
    media_restarted = asyncio.Event()

    async def broken() -> None:
        raise RuntimeError("a failing callback must not stop the others")

    async def on_supervisor_restart() -> None:
        supervisor_restarted.set()

    async def on_media_restart() -> None:
        media_restarted.set()

    supervisor.on_restart(broken)
    supervisor.on_restart(on_supervisor_restart)
    media.on_restart(broken)
    media.on_restart(on_media_restart)

    old_pid = supervisor.pid
    assert old_pid is not None
    os.kill(old_pid, signal.SIGKILL)
    async with asyncio.timeout(30):
        await supervisor_restarted.wait()
        await media_restarted.wait()
    assert supervisor.pid not in (None, old_pid)
    assert supervisor.restarts >= 1 and media.restarts >= 1

    # The old participant's session died with Janus; closing it is still safe.
    assert stale.closed
    await stale.close()
    # The room and its allowed tokens were re-created by the media server.
    assert await media.room_exists(room)
    fresh = await media.open_participant(room, "tok-after-restart")
    await fresh.close()
    with pytest.raises(JanusError) as refused:
        await media.open_participant(room, "tok-other")
    assert refused.value.code == UNAUTHORIZED
    await media.destroy_room(room)
