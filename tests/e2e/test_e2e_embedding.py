"""The meeting page under its Content-Security-Policy in Debian's Chromium (issue 10 finding 4): a
meeting with media runs without a single CSP violation, an injected inline script does not run, and
an application's allowed embedding origins decide who may frame the meeting (frame-ancestors) and
who hears its events (postMessage)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page

from meetkit.client import MeetingsClient

from .. import browser as b
from ..support import Server, create_application, media_env, media_net, start_server, stop_server
from .test_e2e_meeting import EmbedderSite

pytestmark = [
    pytest.mark.skipif(not b.chromium_available(), reason="Debian chromium is installed by scripts/services.sh"),
    pytest.mark.skipif(os.geteuid() != 0, reason="the loopback media link needs root (CI runs as root)"),
]

# Every CSP violation the page reports, kept where the test can read it (init scripts are not
# subject to the page's CSP).
WATCH_CSP = """window.__csp = [];
document.addEventListener('securitypolicyviolation', e =>
  window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"""


@pytest.fixture(scope="module")
def media_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    media_net()
    srv = start_server("sqlite", tmp_path_factory.mktemp("e2e-csp"), media_env(), tls=False)
    yield srv
    stop_server(srv)


@pytest.fixture
def api(media_server: Server, tmp_path: Path) -> Iterator[MeetingsClient]:
    """A fresh application per test: each sets its own embedding origins."""
    app_id, key = create_application(media_server, tmp_path)
    with MeetingsClient(media_server.base_url, app_id, key) as c:
        yield c


def csp_console(messages: list[str]) -> list[str]:
    return [m for m in messages if "Content Security Policy" in m or "Refused to" in m]


async def watched_page(ctx: BrowserContext, messages: list[str]) -> Page:
    page = await ctx.new_page()
    await page.add_init_script(WATCH_CSP)
    page.on("console", lambda m: messages.append(m.text))
    return page


async def test_meeting_with_media_runs_under_the_csp(media_server: Server, api: MeetingsClient,
                                                     chromium: Browser) -> None:
    room = api.create_room({"display_name": "Under CSP"})
    host_url, guest_url = room["_links"]["host_url"]["href"], room["_links"]["guest_url"]["href"]
    origin = media_server.base_url
    host_ctx = await b.new_context(chromium, origin)
    guest_ctx = await b.new_context(chromium, origin)
    host_log: list[str] = []
    guest_log: list[str] = []
    try:
        host = await watched_page(host_ctx, host_log)
        response = await host.goto(host_url)
        assert response is not None
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy
        await host.fill("#name", "Hana Host")
        await host.click("#join")
        await b.wait_state(host, "joined")
        guest = await watched_page(guest_ctx, guest_log)
        await b.join(guest, guest_url, "Gus Guest")
        await b.wait_state(guest, "joined")
        await b.wait_decoding(host)
        # Chat round trip: the socket, the store and the DOM all work under the policy.
        if not await guest.is_visible("#chat-input"):
            await guest.click("#btn-chat")
        await guest.fill("#chat-input", "under the policy")
        await guest.click("#chat-send")
        if not await host.is_visible("#chat-messages"):
            await host.click("#btn-chat")
        await host.wait_for_selector("#chat-messages .msg:has-text('under the policy')", timeout=10000)

        for page, log in ((host, host_log), (guest, guest_log)):
            assert await page.evaluate("() => window.__csp") == []
            assert csp_console(log) == []
        # The policy is in force: an inline script injected into the page does not run.
        await host.evaluate("""() => { const s = document.createElement('script');
            s.textContent = 'window.__injected = true'; document.head.append(s); }""")
        await host.wait_for_function("() => window.__csp.length > 0", timeout=5000)
        assert await host.evaluate("() => window.__injected === undefined")
        assert any(v.startswith("script-src") for v in await host.evaluate("() => window.__csp"))
    finally:
        await guest_ctx.close()
        await host_ctx.close()


async def _embed(outer: Page, site: EmbedderSite, url: str) -> None:
    await outer.goto(site.url)
    await outer.evaluate("""url => { window.handle = Meetkit.embed(document.getElementById('here'), url,
        {width: 1000, height: 700, onEvent: (e, d) => window.events.push(e)}); }""", url)


async def test_only_allowed_origins_may_frame_and_hear_the_meeting(media_server: Server, api: MeetingsClient,
                                                                   chromium: Browser) -> None:
    origin = media_server.base_url
    allowed, other = EmbedderSite(origin), EmbedderSite(origin)  # two more loopback origins (ports)
    ctx = await b.new_context(chromium, origin)
    try:
        for site in (allowed, other):
            await ctx.grant_permissions(["camera", "microphone"], origin=site.url.rstrip("/"))
        resp = api.request("PUT", "/applications/embed-origins", json={"embed_origins": [allowed.url.rstrip("/")]})
        assert resp.status_code == 200, resp.text
        room = api.create_room({"display_name": "Framed"})
        guest_url = room["_links"]["guest_url"]["href"]

        # A site that is not on the list: the browser refuses to render the meeting in its frame.
        blocked_log: list[str] = []
        blocked = await ctx.new_page()
        blocked.on("console", lambda m: blocked_log.append(m.text))
        await _embed(blocked, other, guest_url)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while not any("frame-ancestors" in m for m in blocked_log):
            assert loop.time() < deadline, f"framing was not refused: {blocked_log}"
            await asyncio.sleep(0.1)
        frame = await (await blocked.wait_for_selector("iframe")).content_frame()
        assert frame is None or await frame.query_selector("#name") is None

        # The listed site: the meeting loads, joins, and its events reach the page that frames it.
        framing_log: list[str] = []
        outer = await ctx.new_page()
        outer.on("console", lambda m: framing_log.append(m.text))
        await _embed(outer, allowed, guest_url)
        guest = await (await outer.wait_for_selector("iframe")).content_frame()
        assert guest is not None
        # The UI has started (it fills #name from the last visit) before the test types a name.
        await guest.wait_for_function("() => !!window.__meetkit", timeout=15000)
        await guest.fill("#name", "Framed Guest")
        await guest.click("#join")
        await guest.wait_for_function("() => window.__meetkit.state === 'joined'", timeout=15000)
        await outer.wait_for_function("() => window.events.includes('joined')", timeout=10000)
        assert csp_console(framing_log) == []
    finally:
        await ctx.close()
        allowed.close()
        other.close()
