"""Cascading (issue 12): with a receiver cap of 2, a meeting's third receiver lands on the second Janus
of the pool, which gets the publishers' streams as remote publishers, and decodes video there; its own
publishing stays on the meeting's home Janus. Two real Janus, one meetkit node, aiortc participants
on loopback, then the same with three Chromium pages."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser

from meetkit.client import MeetingsClient
from meetkit.media.videoroom import MediaServer

from .. import browser as b
from ..signalling_client import Peer
from ..support import create_application, free_port, media_net, start_server, stop_server
from .test_janus_pool import ADMIN_KEY, Pool, RunJanus, _janus, _leave

aiortc = pytest.importorskip("aiortc")

from ..media.peers import Receiver, Voice, publish  # noqa: E402  (aiortc is there)

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def cascade(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Pool]:
    media_net()
    tmp_path = tmp_path_factory.mktemp("cascade")
    first = _janus(tmp_path / "a", 43000 + free_port() % 8000)
    await first.start()
    srv = None
    second: RunJanus | None = None
    try:
        second = await RunJanus.start(tmp_path / "b", 52000 + free_port() % 8000)  # killed by the last test
        srv = await asyncio.to_thread(start_server, "postgresql", tmp_path / "node", {
            "MEETKIT_MEDIA_MODE": "external", "MEETKIT_JANUS_URLS": f"a={first.url},b={second.url}",
            "MEETKIT_JANUS_ADMIN_KEY": ADMIN_KEY, "MEETKIT_MEDIA_CANDIDATE_NETWORKS": "127.0.0.0/8",
            "MEETKIT_JANUS_CASCADE_RECEIVERS": "2"}, tls=False)
        yield Pool(srv, {"a": first, "b": second}, tmp_path)
    finally:
        if srv is not None:
            await asyncio.to_thread(stop_server, srv)
        if second is not None:
            second.kill()
        await first.stop()


class Janus:
    """What one Janus of the pool holds, asked as an operator would (the admin key shows private rooms)."""

    def __init__(self, url: str) -> None:
        self.server = MediaServer(url, admin_key=ADMIN_KEY, api_secret=None)

    async def __aenter__(self) -> Janus:
        await self.server.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.server.stop()

    async def rooms(self) -> list[int]:
        data = await self.server._handle().request({"request": "list", "admin_key": ADMIN_KEY})
        return [int(r["room"]) for r in data.get("list", []) if str(r.get("description", "")).startswith("meetkit ")]

    async def publishers(self, room: int) -> set[int]:
        return {int(p["id"]) for p in await self.server.participants(room) if p.get("publisher")}

    async def participants_of(self, room: int) -> list[Any]:
        return await self.server.participants(room)

    async def forwarded_to(self, room: int, feed: int) -> list[str]:
        """The remotizations of a local publisher (``listremotes``): where its streams are sent."""
        data = await self.server.room_request(room, {"request": "listremotes", "publisher_id": feed})
        return [str(r["remote_id"]) for r in data.get("list", [])]


async def _until(what: str, check: Any, timeout: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        assert loop.time() < deadline, f"{what}: not within {timeout}s"
        await asyncio.sleep(0.1)


async def test_the_third_receiver_lands_on_the_second_janus_and_decodes_video(cascade: Pool) -> None:
    app_id, key = await asyncio.to_thread(create_application, cascade.server, cascade.keys, "cascade")
    with MeetingsClient(cascade.server.base_url, app_id, key) as api:
        room = api.create_room({"display_name": "cascade", "join_approval_level": "none"})
    code, token = room["meeting_code"], room["_links"]["host_url"]["href"].split("participant_token=")[1]
    host = await Peer.open(cascade.server.base_url, code, "Hana", host_token=token)
    await host.expect("admitted")
    voice = Voice()
    voice.speak()
    pcs = [await publish(host, video=True, voice=voice)]
    receivers = [Receiver(host)]
    peers = [host]
    try:
        for name in ("Gus", "Ida"):
            guest = await Peer.open(cascade.server.base_url, code, name)
            await guest.expect("admitted")
            peers.append(guest)
            receivers.append(Receiver(guest))
        near, far = receivers[1], receivers[2]
        host_feed = await _feed(peers[2], host.id)
        for guest in peers[1:]:
            await guest.send({"type": "media.view", "tiles": [{"feed": host_feed, "width": 640, "height": 360}]})
        await _until("the second receiver decodes the host's video",
                     lambda: near.video_frames.get(host.id, 0) >= 10)
        await _until("the third receiver, on the other Janus, decodes the host's video and hears them",
                     lambda: far.video_frames.get(host.id, 0) >= 10 and far.loud_frames.get(host.id, 0) >= 10)
        home_name = next(n for n, row in cascade.listed().items() if row["meetings"] == 1)
        edge_name = "b" if home_name == "a" else "a"
        async with Janus(cascade.janus[home_name].url) as home, Janus(cascade.janus[edge_name].url) as edge:
            [janus_room] = await home.rooms()
            assert await edge.rooms() == [janus_room]  # the meeting has a room on the edge too
            assert host_feed in await edge.publishers(janus_room)  # as a remote publisher
            assert await home.forwarded_to(janus_room, host_feed) == [f"edge-{edge_name}"]

            # The receiver on the edge publishes: on the home Janus, forwarded to the edge like any feed,
            # and heard by the host and the other guest.
            ida_voice = Voice()
            ida_voice.speak()
            ida = peers[2]
            pcs.append(await publish(ida, voice=ida_voice))
            ida_feed = await _feed(host, ida.id)
            await _until("the host hears the guest on the edge", lambda: receivers[0].loud_frames.get(ida.id, 0) >= 10)
            await _until("the other guest hears the guest on the edge", lambda: near.loud_frames.get(ida.id, 0) >= 10)
            assert ida_feed in await home.publishers(janus_room)
            assert await home.forwarded_to(janus_room, ida_feed) == [f"edge-{edge_name}"]
            # Frames keep coming on the edge.
            seen = far.video_frames[host.id]
            await _until("the edge's video keeps coming", lambda: far.video_frames[host.id] >= seen + 10)

            # A fourth receiver, also on the edge, joins long after the host's last keyframe: the edge's
            # keyframe request reaches the host's browser through the home (RTCP), so it decodes at once.
            jo = await Peer.open(cascade.server.base_url, code, "Jo")
            await jo.expect("admitted")
            peers.append(jo)
            late = Receiver(jo)
            receivers.append(late)
            await jo.send({"type": "media.view", "tiles": [{"feed": host_feed, "width": 640, "height": 360}]})
            await _until("the late receiver on the edge decodes the host's video",
                         lambda: late.video_frames.get(host.id, 0) >= 10, timeout=10)
            assert len(await edge.participants_of(janus_room)) == 4  # Ida, Jo, and the host and Ida as remote feeds

        # The host unpublishes: the edge loses the remote publisher.
        await pcs[0].close()
        await host.send({"type": "media.unpublish", "kind": "camera"})
        async with Janus(cascade.janus[edge_name].url) as edge:
            for _ in range(100):
                if host_feed not in await edge.publishers(janus_room):
                    break
                await asyncio.sleep(0.1)
            assert host_feed not in await edge.publishers(janus_room)
    finally:
        for r in receivers:
            await r.close()
        for pc in pcs:
            await pc.close()
        await _leave(*reversed(peers))
    # Everyone left: the meeting's rooms are gone from both Janus.
    for name in ("a", "b"):
        async with Janus(cascade.janus[name].url) as janus:
            for _ in range(50):
                if not await janus.rooms():
                    break
                await asyncio.sleep(0.1)
            assert await janus.rooms() == []


async def _feed(watcher: Peer, who: str, timeout: float = 15.0) -> int:
    """``who``'s camera feed, as ``watcher`` was told (participant updates)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        for frame in reversed(watcher.frames):
            for p in _participants(frame):
                if p.get("participant_id") == who and (p.get("feeds") or {}).get("camera"):
                    return int(p["feeds"]["camera"])
        await asyncio.sleep(0.05)
    raise AssertionError(f"no camera feed of {who} within {timeout}s")


def _participants(frame: dict[str, Any]) -> list[dict[str, Any]]:
    if isinstance(frame.get("participant"), dict):
        return [frame["participant"]]
    found = frame.get("participants")
    return [p for p in found if isinstance(p, dict)] if isinstance(found, list) else []


@pytest.mark.skipif(not b.chromium_available(), reason="Debian chromium is installed by scripts/services.sh")
@pytest.mark.skipif(os.geteuid() != 0, reason="the loopback media link needs root (CI runs as root)")
async def test_a_third_chromium_page_on_the_second_janus_decodes_everyone(cascade: Pool, chromium: Browser,
                                                                          tmp_path: Path) -> None:
    app_id, key = await asyncio.to_thread(create_application, cascade.server, tmp_path, "chromium cascade")
    base = cascade.server.base_url
    with MeetingsClient(base, app_id, key) as api:
        room = await asyncio.to_thread(api.create_room, {"display_name": "cascade", "join_approval_level": "none"})
    path = lambda link: re.sub(r"^https?://[^/]+", "", room["_links"][link]["href"])  # noqa: E731
    contexts, pages = [], []
    try:
        for link, name in (("host_url", "Hana Host"), ("guest_url", "Gus Guest"), ("guest_url", "Ida Guest")):
            ctx = await b.new_context(chromium, base)
            contexts.append(ctx)
            page = await ctx.new_page()
            pages.append(page)
            await b.join(page, base + path(link), name)
            await b.wait_state(page, "joined", timeout=30)
        decoded = await _decoding_from(pages[2], 2)
        home_name = next(n for n, row in cascade.listed().items() if row["meetings"] == 1)
        edge_name = "b" if home_name == "a" else "a"
        async with Janus(cascade.janus[edge_name].url) as edge:
            [janus_room] = await edge.rooms()
            on_edge = await edge.participants_of(janus_room)
        remote = {int(p["id"]) for p in on_edge if p.get("remote")}
        assert {int(f) for f in decoded} <= remote  # what the third page decodes comes from the edge
        assert sum(1 for p in on_edge if not p.get("publisher")) == 1  # its presence, and only its
        for page in pages[:2]:  # the first two, on the home Janus, decode the third page's camera too
            await _decoding_from(page, 2)
    finally:
        for ctx in contexts:
            await ctx.close()


async def _decoding_from(page: Any, feeds: int, timeout: float = 30.0) -> dict[str, Any]:
    """Until the page decodes video and receives audio from ``feeds`` feeds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last: dict[str, Any] = {}
    while loop.time() < deadline:
        last = await b.inbound(page)
        live = {f: r for f, r in last.items() if r["video_frames"] > 0 and r["audio_packets"] > 0}
        if len(live) >= feeds:
            return live
        await asyncio.sleep(0.25)
    raise AssertionError(f"not decoding {feeds} feeds within {timeout}s: {last}")


async def test_a_lost_edge_janus_its_receivers_receive_again_elsewhere(cascade: Pool) -> None:
    """(Last in this module: it kills Janus b.) The meeting is placed on a (the less loaded name), so b
    is its edge: when b dies, the receiver there is told ``media.reset``, and hears the host again."""
    app_id, key = await asyncio.to_thread(create_application, cascade.server, cascade.keys, "edge lost")
    with MeetingsClient(cascade.server.base_url, app_id, key) as api:
        room = api.create_room({"display_name": "edge lost", "join_approval_level": "none"})
    code, token = room["meeting_code"], room["_links"]["host_url"]["href"].split("participant_token=")[1]
    host = await Peer.open(cascade.server.base_url, code, "Hana", host_token=token)
    await host.expect("admitted")
    voice = Voice()
    voice.speak()
    pcs = [await publish(host, voice=voice)]
    peers, receivers = [host], [Receiver(host)]
    try:
        for name in ("Gus", "Ida"):
            guest = await Peer.open(cascade.server.base_url, code, name)
            await guest.expect("admitted")
            peers.append(guest)
            receivers.append(Receiver(guest))
        ida = peers[2]
        await _until("the receiver on the edge hears the host", lambda: receivers[2].loud_frames.get(host.id, 0) >= 10)
        assert {n: row["meetings"] for n, row in cascade.listed().items()}["a"] == 1
        janus_b = cascade.janus["b"]
        assert isinstance(janus_b, RunJanus)
        seen = len(ida.frames)
        janus_b.kill()
        await ida.expect("media.reset", timeout=15)
        assert not [f for f in host.frames + peers[1].frames if f["type"] == "media.reset"]  # only the edge's
        await receivers[2].close()
        receivers[2] = again = Receiver(ida, since=seen)
        await _until("the moved receiver hears the host again", lambda: again.loud_frames.get(host.id, 0) >= 10)
    finally:
        for r in receivers:
            await r.close()
        for pc in pcs:
            await pc.close()
        await _leave(*reversed(peers))
