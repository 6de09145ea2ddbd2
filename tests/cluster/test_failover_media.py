"""A node SIGKILLed mid-meeting, with media (issue 12, failover a): two nodes share one external Janus
that keeps a dropped connection's sessions (``reclaim_session_timeout``). The node that takes the
meeting over claims its participants' Janus sessions from the cards the dead owner kept in Redis, so
the guest's decoded-frame count keeps rising through the outage, the browsers resume with the
connections they have (no ``media.reset``, nobody announced twice), and the media room goes on under
the new owner (a newcomer hears the host)."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from meetkit.config import Settings
from meetkit.media.supervisor import JanusSupervisor

from ..redis_server import RedisServer
from ..signalling_client import Peer
from ..support import MEDIA_ADDR, free_port, media_net
from .conftest import Deployment, host_on_a_guest_on_b
from .test_cascade import _until
from .test_failover import _resume_on

aiortc = pytest.importorskip("aiortc")

from ..media.peers import Receiver, Voice, publish  # noqa: E402  (aiortc is there)

pytestmark = pytest.mark.asyncio(loop_scope="session")

ADMIN_KEY = "the-shared-janus-of-this-test"


@pytest_asyncio.fixture(loop_scope="session")
async def deployment(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Deployment]:
    media_net()
    rtp = 46000 + free_port() % 12000
    janus = JanusSupervisor(Settings(
        data_dir=tmp_path_factory.mktemp("janus"), janus_ws_port=free_port(), janus_admin_port=free_port(),
        media_rtp_ports=f"{rtp}-{rtp + 300}", media_ice_interface=MEDIA_ADDR, janus_admin_key=ADMIN_KEY,
        janus_reclaim_seconds=30, _env_file=None))  # type: ignore[call-arg]
    await janus.start()
    d = None
    try:
        d = await asyncio.to_thread(
            Deployment, redis_server, tmp_path_factory.mktemp("failover-media"), ["node-a", "node-b"],
            MEETKIT_MEDIA_MODE="external", MEETKIT_JANUS_URL=janus.url, MEETKIT_JANUS_ADMIN_KEY=ADMIN_KEY,
            MEETKIT_JANUS_RECLAIM_SECONDS="30", MEETKIT_MEDIA_CANDIDATE_NETWORKS="127.0.0.0/8")
        yield d
    finally:
        if d is not None:
            await asyncio.to_thread(d.stop)
        await janus.stop()


async def test_the_guest_keeps_decoding_through_a_killed_node(deployment: Deployment,
                                                              tmp_path_factory: pytest.TempPathFactory) -> None:
    a, b = deployment.nodes
    meeting = await host_on_a_guest_on_b(a, b, tmp_path_factory.mktemp("keys"))
    host, guest = meeting.host, meeting.guest
    host_voice, guest_voice = Voice(), Voice()
    host_voice.speak()
    guest_voice.speak()
    pcs = [await publish(host, video=True, voice=host_voice), await publish(guest, voice=guest_voice)]
    at_host, at_guest = Receiver(host), Receiver(guest)
    receivers = [at_host, at_guest]
    peers = [host, guest]
    try:
        feed = await _camera_feed(guest, host.id)
        await guest.send({"type": "media.view", "tiles": [{"feed": feed, "width": 640, "height": 360}]})
        await _until("the guest decodes the host", lambda: at_guest.video_frames.get(host.id, 0) >= 10)
        await _until("the host hears the guest", lambda: at_host.loud_frames.get(guest.id, 0) >= 10)
        await asyncio.sleep(1.5)  # the owner's cards are written within half a second of a change

        loop = asyncio.get_running_loop()
        os.kill(a.process.pid, signal.SIGKILL)
        a.process.wait(timeout=10)
        killed = loop.time()
        samples: list[tuple[float, int]] = []

        async def sample() -> None:
            while True:
                samples.append((loop.time() - killed, at_guest.video_frames.get(host.id, 0)))
                await asyncio.sleep(0.25)

        sampler = asyncio.create_task(sample())
        try:
            assert await guest.closed(timeout=10) is not None
            guest2 = await _resume_on(b.base_url, meeting.code, "Gus", guest, killed + 12)
            at_guest.follow(guest2)
            host2 = await _resume_on(b.base_url, meeting.code, "Hana", host, killed + 12, host_token=meeting.token)
            at_host.follow(host2)
            peers += [guest2, host2]
            resumed = loop.time() - killed
            await asyncio.sleep(3)  # and on, under the new owner
        finally:
            sampler.cancel()
        print(f"failover with media: resumed {resumed:.2f} s after the kill; guest's frames {samples[0][1]} → "
              f"{samples[-1][1]} over {samples[-1][0]:.1f} s")
        # Every second of the outage and after, the guest decoded more of the host's video.
        for (t0, n0) in samples:
            later = [n for t, n in samples if t >= t0 + 1.0]
            if later:
                assert later[0] > n0, f"no frame decoded between {t0:.2f} s and {t0 + 1:.2f} s: {samples}"
        assert resumed < 12
        assert not [f for f in guest2.frames + host2.frames if f["type"] in ("media.reset", "participant.joined")]
        assert guest2.welcome["resumed"] and host2.welcome["resumed"]
        heard = at_host.loud_frames.get(guest.id, 0)
        await _until("the host still hears the guest", lambda: at_host.loud_frames.get(guest.id, 0) >= heard + 10)

        # The media room goes on under the new owner: a newcomer on B hears the host.
        ida = await Peer.open(b.base_url, meeting.code, "Ida")
        await ida.expect("admitted")
        peers.append(ida)
        at_ida = Receiver(ida)
        receivers.append(at_ida)
        await ida.send({"type": "media.view", "tiles": [{"feed": feed, "width": 640, "height": 360}]})
        await _until("a newcomer hears the host and decodes their video",
                     lambda: at_ida.loud_frames.get(host.id, 0) >= 10 and at_ida.video_frames.get(host.id, 0) >= 10)
    finally:
        for r in receivers:
            await r.close()
        for pc in pcs:
            await pc.close()
        for peer in peers[2:]:
            await peer.send({"type": "leave"})
            await peer.close()


async def _camera_feed(watcher: Peer, who: str, timeout: float = 15.0) -> int:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        for frame in reversed(watcher.frames):
            p = frame.get("participant")
            if isinstance(p, dict) and p.get("participant_id") == who and (p.get("feeds") or {}).get("camera"):
                return int(p["feeds"]["camera"])
        await asyncio.sleep(0.05)
    raise AssertionError(f"no camera feed of {who} within {timeout}s")
