"""Trickle and renegotiation of a publisher on a real Janus, with an aiortc peer through meetkit's
meeting socket: the offer without its candidates, the candidates as ``media.candidate``, then a
``restart`` offer on the live publisher — the same feed, never withdrawn."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from meetkit.client import MeetingsClient

from ..signalling_client import Peer
from ..support import Server, create_application, media_env, media_net, start_server, stop_server
from .test_media_meeting import feed_of, loopback_ice, next_of  # noqa: F401  (loopback_ice: a fixture)

aiortc = pytest.importorskip("aiortc")
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the loopback media link needs root (CI runs as root)")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    media_net()
    srv = start_server("sqlite", tmp_path_factory.mktemp("media-publishing"), media_env(), tls=False)
    yield srv
    stop_server(srv)


@pytest.fixture(scope="module")
def api(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MeetingsClient]:
    app_id, key = create_application(server, tmp_path_factory.mktemp("keys"))
    with MeetingsClient(server.base_url, app_id, key) as c:
        yield c


async def test_a_trickled_offer_then_a_restart_keep_one_live_feed(
        server: Server, api: MeetingsClient, loopback_ice: None) -> None:  # noqa: F811
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
    from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack

    room = api.create_room({"display_name": "trickle", "join_approval_level": "none"})
    token = room["_links"]["host_url"]["href"].split("participant_token=")[1]
    host = await Peer.open(server.base_url, room["meeting_code"], "Hana", host_token=token)
    await host.expect("admitted")
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        pc.addTrack(AudioStreamTrack())
        pc.addTrack(VideoStreamTrack())
        await pc.setLocalDescription(await pc.createOffer())
        lines = pc.localDescription.sdp.split("\r\n")
        candidates = [x[2:] for x in lines if x.startswith("a=candidate:")]
        bare = "\r\n".join(x for x in lines if not x.startswith("a=candidate:") and x != "a=end-of-candidates")
        assert candidates

        # A candidate for a connection not published yet is kept by meetkit, not refused.
        await host.send({"type": "media.candidate", "target": "screen", "candidate": {"candidate": candidates[0]}})
        await host.send({"type": "media.publish", "kind": "camera", "sdp": bare, "trickle": True, "offer": 1})
        answer = await next_of(host, "media.answer", "media.error")
        assert answer["type"] == "media.answer" and answer["offer"] == 1, answer  # the page's number, repeated
        for candidate in candidates:
            await host.send({"type": "media.candidate", "target": "camera",
                             "candidate": {"candidate": candidate, "sdpMid": "0", "sdpMLineIndex": 0}})
        await host.send({"type": "media.candidate", "target": "camera", "candidate": None})
        await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
        feed = await feed_of(host, host.id)  # Janus's webrtcup: the trickled connection is up
        assert feed == answer["feed"]

        seen = len(host.frames)
        await host.send({"type": "media.publish", "kind": "camera", "sdp": bare, "trickle": True, "restart": True,
                         "offer": 2})
        again = await next_of(host, "media.answer", "media.error")
        assert again["type"] == "media.answer" and again["feed"] == feed and again["offer"] == 2, again
        await host.send({"type": "media.candidate", "target": "camera", "candidate": None})
        await host.send({"type": "ping"})
        await host.expect("pong")
        later = host.frames[seen:]
        assert not [x for x in later if x["type"] in ("error", "media.error")], later
        withdrawn = [x for x in later if x["type"] == "participant.updated"
                     and x["participant"]["participant_id"] == host.id and not x["participant"]["feeds"]]
        assert not withdrawn
    finally:
        await pc.close()
        await host.close()
