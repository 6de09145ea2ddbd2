"""Publishing end to end (Chromium, real meetkit and Janus): the camera sends simulcast layers, offers go
at once with their candidates trickled, an ICE restart keeps the feed and its frames, and a camera
turned off frees its video-sender place."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.async_api import Browser, Page

from meetkit.client import MeetingsClient

from .. import browser as b
from ..support import Server, create_application, media_env, media_net, start_server, stop_server

pytestmark = [
    pytest.mark.skipif(not b.chromium_available(), reason="Debian chromium is installed by scripts/services.sh"),
    pytest.mark.skipif(os.geteuid() != 0, reason="the loopback media link needs root (CI runs as root)"),
]

# The camera publisher's video encodings: {rid: {bytes, width, height}}.
OUTBOUND_JS = """async () => {
  const pc = window.__meetkit.publisher;
  const out = {};
  if (!pc) return out;
  (await pc.getStats()).forEach(s => {
    if (s.type === 'outbound-rtp' && s.kind === 'video')
      out[s.rid || ''] = {bytes: s.bytesSent || 0, width: s.frameWidth || 0, height: s.frameHeight || 0};
  });
  return out;
}"""

UFRAGS_JS = """() => {
  const pc = window.__meetkit.publisher;
  const ufrag = d => ((d && d.sdp.match(/a=ice-ufrag:(\\S+)/)) || [])[1] || null;
  return {local: ufrag(pc.localDescription), remote: ufrag(pc.remoteDescription),
          signaling: pc.signalingState, connection: pc.connectionState};
}"""


@pytest.fixture(scope="module")
def limited_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server where one person at a time may send video."""
    media_net()
    srv = start_server("sqlite", tmp_path_factory.mktemp("e2e-limit"), media_env(MEETKIT_MAX_VIDEO_SENDERS="1"),
                       tls=False)
    yield srv
    stop_server(srv)


@pytest.fixture(scope="module")
def limited_api(limited_server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MeetingsClient]:
    app_id, key = create_application(limited_server, tmp_path_factory.mktemp("keys-limit"))
    with MeetingsClient(limited_server.base_url, app_id, key) as c:
        yield c


async def _until(what: str, check: Any, timeout: float = 20.0) -> Any:
    """Polls the coroutine function ``check`` until it returns something truthy; bounded."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last = None
    while loop.time() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.25)
    raise AssertionError(f"{what} within {timeout}s (last: {last})")


def _frames_sent(page: Page, kinds: list[str]) -> list[dict[str, Any]]:
    frames: list[dict[str, Any]] = []

    def on_socket(ws: Any) -> None:
        def on_frame(payload: str | bytes) -> None:
            if isinstance(payload, str):
                msg = json.loads(payload)
                if msg.get("type") in kinds:
                    frames.append(msg)
        ws.on("framesent", on_frame)

    page.on("websocket", on_socket)
    return frames


async def _janus_publisher_info(server: Server, feed: int) -> dict[str, Any]:
    """What Janus (its Admin API) knows of the videoroom publisher of ``feed``: its handle_info."""
    import websockets

    port, secret = server.env["MEETKIT_JANUS_ADMIN_PORT"], (server.data_dir / "janus" / "admin_secret").read_text()
    async with websockets.connect(f"ws://127.0.0.1:{port}", subprotocols=["janus-admin-protocol"]) as ws:
        async def ask(request: dict[str, Any]) -> dict[str, Any]:
            await ws.send(json.dumps({**request, "transaction": "t", "admin_secret": secret.strip()}))
            async with asyncio.timeout(10):
                reply: dict[str, Any] = json.loads(await ws.recv())
            return reply

        for session in (await ask({"janus": "list_sessions"}))["sessions"]:
            for handle in (await ask({"janus": "list_handles", "session_id": session}))["handles"]:
                info = (await ask({"janus": "handle_info", "session_id": session, "handle_id": handle}))["info"]
                own = info.get("plugin_specific") or {}
                if own.get("type") == "publisher" and own.get("id") == feed:
                    return info
    raise AssertionError(f"Janus has no publisher {feed}")


async def _guest_frames(page: Page, feed: int) -> int:
    stats = await page.evaluate(b.INBOUND_JS)
    return int(stats.get(str(feed), {}).get("video_frames", 0))


async def test_camera_sends_simulcast_layers_and_trickles_its_offer(
        media_server: Server, api: MeetingsClient, chromium: Browser) -> None:
    room = api.create_room({"display_name": "Simulcast", "join_approval_level": "none"})
    host_url, guest_url = room["_links"]["host_url"]["href"], room["_links"]["guest_url"]["href"]
    host_ctx = await b.new_context(chromium, media_server.base_url, width=1280, height=800)
    guest_ctx = await b.new_context(chromium, media_server.base_url, width=1280, height=800)
    try:
        host = await host_ctx.new_page()
        sent = _frames_sent(host, ["media.publish", "media.candidate"])
        await b.join(host, host_url, "Hana Host")
        await b.wait_state(host, "joined")

        # Two or more layers with a rid, each sending more and more.
        first = await _until("two simulcast layers sending", lambda: _layers(host, {}))
        later = await _until("the layers keep sending", lambda: _layers(host, first))
        assert len(later) >= 2, later
        assert max(x["width"] for x in later.values()) > min(x["width"] for x in later.values()), later

        # The offer went at once, candidates after it, the end of them as null.
        publish = next(x for x in sent if x["type"] == "media.publish" and x["kind"] == "camera")
        assert publish["trickle"] is True and "a=simulcast:send h;m;l" in publish["sdp"], publish["sdp"]
        assert "a=candidate:" not in publish["sdp"]
        camera = [x for x in sent if x["type"] == "media.candidate" and x["target"] == "camera"]
        assert any(x["candidate"] for x in camera) and camera[-1]["candidate"] is None, camera
        assert sent.index(publish) < sent.index(camera[0])

        # Janus took the layers as simulcast: a guest decodes one clean stream of the host's camera.
        feed = await _until("the host's feed", lambda: host.evaluate("() => window.__meetkit.publisherFeed"))
        guest = await guest_ctx.new_page()
        await b.join(guest, guest_url, "Gus Guest")
        await b.wait_state(guest, "joined")
        await _until("the guest decodes the host", lambda: _guest_frames(guest, feed))
        # And Janus says so: the video stream is simulcast, the offer was trickled to its end.
        info = await _janus_publisher_info(media_server, feed)
        video = [x for x in info["plugin_specific"]["streams"] if x["type"] == "video"]
        assert [x.get("simulcast") for x in video] == [True], video
        assert info["flags"]["trickle"] is True and info["flags"]["all-trickles"] is True, info["flags"]
        assert "a=candidate:" not in info["sdps"]["remote"]
    finally:
        await host_ctx.close()
        await guest_ctx.close()


async def _layers(page: Page, before: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]] | None:
    now: dict[str, dict[str, Any]] = await page.evaluate(OUTBOUND_JS)
    growing = {rid: x for rid, x in now.items() if rid and x["bytes"] > before.get(rid, {}).get("bytes", 0)}
    return growing if len(growing) >= 2 else None


async def test_ice_restart_keeps_the_feed_and_its_frames(
        media_server: Server, api: MeetingsClient, chromium: Browser) -> None:
    room = api.create_room({"display_name": "Restart", "join_approval_level": "none"})
    host_url, guest_url = room["_links"]["host_url"]["href"], room["_links"]["guest_url"]["href"]
    host_ctx = await b.new_context(chromium, media_server.base_url)
    guest_ctx = await b.new_context(chromium, media_server.base_url)
    try:
        host = await host_ctx.new_page()
        sent = _frames_sent(host, ["media.publish"])
        await b.join(host, host_url, "Hana Host")
        await b.wait_state(host, "joined")
        feed = await _until("the host's feed", lambda: host.evaluate("() => window.__meetkit.publisherFeed"))
        guest = await guest_ctx.new_page()
        await b.join(guest, guest_url, "Gus Guest")
        await b.wait_state(guest, "joined")
        await _until("the guest decodes the host", lambda: _guest_frames(guest, feed))
        before = await host.evaluate(UFRAGS_JS)
        published = len(sent)

        await host.evaluate("() => window.__meetkit.restartPublisher('camera')")

        async def restarted() -> dict[str, Any] | None:
            now: dict[str, Any] = await host.evaluate(UFRAGS_JS)
            done = (now["local"] != before["local"] and now["remote"] != before["remote"]
                    and now["signaling"] == "stable" and now["connection"] == "connected")
            return now if done else None

        await _until("new ICE credentials on both sides, connected again", restarted)
        assert [(x["kind"], x.get("restart")) for x in sent[published:]] == [("camera", True)]
        frames = await _guest_frames(guest, feed)
        await _until("frames keep arriving after the restart", lambda: _more_frames(guest, feed, frames + 20))
        assert await host.evaluate("() => window.__meetkit.publisherFeed") == feed
        assert str(feed) in await guest.evaluate(b.INBOUND_JS)  # the same subscription, never redone
    finally:
        await host_ctx.close()
        await guest_ctx.close()


async def _more_frames(page: Page, feed: int, wanted: int) -> bool:
    return await _guest_frames(page, feed) >= wanted


async def test_camera_off_frees_the_video_place(
        limited_server: Server, limited_api: MeetingsClient, chromium: Browser) -> None:
    room = limited_api.create_room({"display_name": "One camera", "join_approval_level": "none"})
    host_url, guest_url = room["_links"]["host_url"]["href"], room["_links"]["guest_url"]["href"]
    a_ctx = await b.new_context(chromium, limited_server.base_url)
    b_ctx = await b.new_context(chromium, limited_server.base_url)
    try:
        a = await a_ctx.new_page()
        await b.join(a, host_url, "Ann")
        await b.wait_state(a, "joined")
        await _until("A sends video", lambda: _sends_video(a))
        bee = await b_ctx.new_page()
        await b.join(bee, guest_url, "Bob")
        await b.wait_state(bee, "joined")
        # The one place is A's: B's camera is turned off and B publishes audio only.
        await _until("B's camera refused", lambda: _camera_off(bee))

        await a.click("#btn-camera")  # A: camera off, its place free
        await _until("A's camera off", lambda: _camera_off(a))
        await bee.click("#btn-camera")  # B: camera on, and now allowed
        await _until("B sends video", lambda: _sends_video(bee))

        await a.click("#btn-camera")  # A again: the place is B's now, so A is refused
        await _until("A's camera refused again", lambda: _camera_off(a))
        await asyncio.sleep(1)
        assert await _camera_off(a)
        assert await _sends_video(bee)
    finally:
        await a_ctx.close()
        await b_ctx.close()


async def _sends_video(page: Page) -> bool:
    first = await page.evaluate(OUTBOUND_JS)
    await asyncio.sleep(0.5)
    now = await page.evaluate(OUTBOUND_JS)
    return any(x["bytes"] > first.get(rid, {}).get("bytes", 0) for rid, x in now.items())


async def _camera_off(page: Page) -> bool:
    return bool(await page.evaluate(
        "() => document.querySelector('#btn-camera').getAttribute('aria-pressed') !== 'true'"))
