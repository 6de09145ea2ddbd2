"""The meeting end to end: a real server with its own Janus, Debian's Chromium with fake devices, the
REST API to make the room, the host URL in one browser context and the guest URL in another.

Media stays on loopback addresses: Janus offers only 127.0.0.5 (on a veth made by
scripts/media-net.sh) and Chromium may use loopback candidates."""

from __future__ import annotations

import asyncio
import http.server
import json
import os
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.async_api import Browser

from meetkit.client import MeetingsClient

from .. import browser as b
from ..signalling_client import Peer
from ..support import Server, create_application, media_env, media_net, start_server, stop_server

pytestmark = [
    pytest.mark.skipif(not b.chromium_available(), reason="Debian chromium is installed by scripts/services.sh"),
    pytest.mark.skipif(os.geteuid() != 0, reason="the loopback media link needs root (CI runs as root)"),
]


@pytest.fixture(scope="module")
def media_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    media_net()
    srv = start_server("sqlite", tmp_path_factory.mktemp("e2e"), media_env(MEETKIT_RESUME_GRACE="3"), tls=False)
    yield srv
    stop_server(srv)


@pytest.fixture(scope="module")
def api(media_server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MeetingsClient]:
    app_id, key = create_application(media_server, tmp_path_factory.mktemp("keys"))
    with MeetingsClient(media_server.base_url, app_id, key) as c:
        yield c


class EmbedderSite:
    """A customer's page on another origin (another loopback port) that embeds the meeting."""

    def __init__(self, meetkit_url: str) -> None:
        page = f"""<!doctype html><html><body><div id="here"></div>
<script src="{meetkit_url}/embed.js"></script>
<script>window.events = [];</script></body></html>"""

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = page.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()


async def test_host_admits_guest_media_chat_remove_and_forged_token(
        media_server: Server, api: MeetingsClient, chromium: Browser) -> None:
    room = api.create_room({"display_name": "E2E", "join_approval_level": "explicit_approval"})
    host_url, guest_url = room["_links"]["host_url"]["href"], room["_links"]["guest_url"]["href"]
    origin = media_server.base_url

    host_ctx = await b.new_context(chromium, origin)
    host = await host_ctx.new_page()
    await b.join(host, host_url, "Hana Host")
    await b.wait_state(host, "joined")

    # The guest joins through the embed helper, inside a cross-origin iframe.
    site = EmbedderSite(origin)
    guest_ctx = await b.new_context(chromium, origin)
    await guest_ctx.grant_permissions(["camera", "microphone"], origin=site.url.rstrip("/"))
    outer = await guest_ctx.new_page()
    try:
        await outer.goto(site.url)
        await outer.evaluate("""url => { window.handle = Meetkit.embed(document.getElementById('here'), url,
            {width: 1000, height: 700, onEvent: (e, d) => window.events.push(e)}); }""", guest_url)
        frame_el = await outer.wait_for_selector("iframe")
        guest = await frame_el.content_frame()
        assert guest is not None
        await guest.wait_for_selector("#name")
        await guest.fill("#name", "Gus <b>Guest</b>")
        await guest.click("#join")
        await guest.wait_for_function("() => window.__meetkit.state === 'lobby'", timeout=15000)

        # The host admits from the waiting-room panel.
        await host.wait_for_selector("#waiting [data-participant-id] .admit", state="attached", timeout=15000)
        await host.eval_on_selector("#waiting [data-participant-id] .admit", "el => el.click()")
        await guest.wait_for_function("() => window.__meetkit.state === 'joined'", timeout=15000)
        guest_id = await guest.evaluate("() => window.__meetkit.participantId")

        # Each side decodes the other's video and audio.
        host_in = await b.wait_decoding(host)
        guest_in = await guest.evaluate(b.INBOUND_JS)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20
        while not any(r["video_frames"] > 0 and r["audio_packets"] > 0 for r in guest_in.values()):
            assert loop.time() < deadline, f"the guest decodes nothing: {guest_in}"
            await asyncio.sleep(0.25)
            guest_in = await guest.evaluate(b.INBOUND_JS)
        assert host_in and guest_in
        # The media went between loopback-range addresses only.
        pairs = await host.evaluate(b.SELECTED_PAIRS_JS)
        assert pairs and all(r.startswith("127.") and loc.startswith("127.") for loc, r in pairs), pairs

        # The guest's name is shown as text, never as markup.
        await host.wait_for_selector(f'.tile[data-participant-id="{guest_id}"]', timeout=10000)
        assert await host.locator("b:text('Guest')").count() == 0

        # Chat from the guest reaches the host.
        if not await guest.is_visible("#chat-input"):
            await guest.click("#btn-chat")
        await guest.fill("#chat-input", "hello from the guest <script>x</script>")
        await guest.click("#chat-send")
        if not await host.is_visible("#chat-messages"):
            await host.click("#btn-chat")
        await host.wait_for_selector("#chat-messages .msg:has-text('hello from the guest')", timeout=10000)
        assert await host.locator("#chat-messages script").count() == 0

        # Screenshots at three widths, and the features each width shows.
        for width in (380, 550, 1280):
            await host.set_viewport_size({"width": width, "height": 760})
            await asyncio.sleep(0.6)
            await b.screenshot(host, f"meeting-host-{width}px")
            screen = await host.is_visible("#btn-screen")
            end = await host.is_visible("#btn-end")
            record = await host.is_visible("#btn-record")
            if width == 380:
                assert not screen and not end and not record
            elif width == 550:
                assert screen and end and not record
            else:
                assert screen and end and record

        # A third browser with a forged host token waits in the lobby and never gets media.
        eve_ctx = await b.new_context(chromium, origin)
        eve = await eve_ctx.new_page()
        await b.join(eve, guest_url + "?participant_token=forged-token", "Eve")
        await b.wait_state(eve, "lobby")
        # ... and a raw socket that claims to be an earlier participant cannot subscribe either (whatever
        # feed it names: the refusal comes before any look-up).
        code = room["meeting_code"]
        rogue = await Peer.open(media_server.base_url, code, "Rogue", resume={
            "participant_id": guest_id, "resume_token": "stale-or-forged"})
        await rogue.expect("lobby")
        await rogue.send({"type": "media.view", "tiles": [{"feed": 1, "width": 640, "height": 360}]})
        assert (await rogue.expect("error"))["code"] == "not_joined"
        await rogue.close()

        # The host removes the guest: the guest's media stops.
        await host.set_viewport_size({"width": 1280, "height": 760})
        if not await host.is_visible("#participants"):
            await host.click("#btn-participants")
        await host.eval_on_selector(f'#participants [data-participant-id="{guest_id}"] .remove', "el => el.click()")
        # Remove asks first, naming who goes; Cancel keeps the guest, Remove removes.
        assert "Gus" in await host.inner_text("#remove-text")
        await host.click("#cancel-remove")
        await asyncio.sleep(0.5)
        assert await guest.evaluate("() => window.__meetkit.state") == "joined"
        await host.eval_on_selector(f'#participants [data-participant-id="{guest_id}"] .remove', "el => el.click()")
        await host.click("#confirm-remove")
        await guest.wait_for_function("() => window.__meetkit.state === 'removed'", timeout=10000)
        assert await guest.evaluate("() => window.__meetkit.publisher === null || "
                                    "window.__meetkit.publisher.connectionState === 'closed'")
        await asyncio.sleep(1.0)
        before = await b.inbound(host)
        await asyncio.sleep(1.5)
        after = await b.inbound(host)
        for feed, stats in after.items():
            if feed in before:
                assert stats["video_frames"] == before[feed]["video_frames"], "the removed guest's video still flows"
        await host.wait_for_selector(f'.tile[data-participant-id="{guest_id}"]', state="detached", timeout=10000)

        assert await b.state(eve) == "lobby"
        assert await b.inbound(eve) == {}
        events = await outer.evaluate("() => window.events")
        assert "joined" in events
        await eve_ctx.close()
    finally:
        site.close()
        await guest_ctx.close()
        await host_ctx.close()
    assert json.dumps(events)


async def test_room_options_shape_the_page(media_server: Server, api: MeetingsClient, chromium: Browser) -> None:
    """initial_join_options.microphone_state, available_features, ui_settings.language and the theme."""
    theme = api.request("POST", "/themes", json={"theme_name": "acme-e2e", "main_color": "#12ab34",
                                                 "brand_text": "Acme <i>Corp</i>"}).json()
    room = api.create_room({"display_name": "Options", "theme_id": theme["theme_id"],
                            "initial_join_options": {"microphone_state": "off"},
                            "available_features": {"is_chat_available": False, "is_recording_available": False},
                            "ui_settings": {"language": "es"}})
    ctx = await b.new_context(chromium, media_server.base_url)
    page = await ctx.new_page()
    try:
        await page.goto(room["_links"]["host_url"]["href"])
        await page.wait_for_selector("#join")
        assert await page.get_attribute("#prejoin-mic", "aria-pressed") == "false"
        assert (await page.inner_text("#join")).strip() == "Unirse"
        assert await page.evaluate("() => document.documentElement.lang") == "es"
        assert await page.inner_text("#brand-text") == "Acme <i>Corp</i>"  # text, not markup
        color = await page.evaluate("() => getComputedStyle(document.documentElement)"
                                    ".getPropertyValue('--accent').trim()")
        assert color.lower() == "#12ab34"
        await page.fill("#name", "Hana")
        await page.click("#join")
        await b.wait_state(page, "joined")
        assert not await page.is_visible("#btn-chat")
        assert not await page.is_visible("#btn-record")
        assert await page.get_attribute("#btn-mic", "aria-pressed") in ("false", "true")
        assert await page.evaluate("() => window.__meetkit.participants.get(window.__meetkit.participantId).mic") \
            is False
    finally:
        await ctx.close()
