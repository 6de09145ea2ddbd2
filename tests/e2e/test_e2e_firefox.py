"""Firefox in a meeting: a Firefox host (Debian's firefox-esr over WebDriver BiDi, tests/firefox.py)
and a Chromium guest (Playwright) in one room through real meetkit and Janus. Each decodes the
other's video and receives the other's audio; the Firefox camera goes out in simulcast layers
(docs/media.md "Firefox")."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest
from playwright.async_api import Browser, Page

from meetkit.client import MeetingsClient

from .. import browser as b
from ..firefox import Firefox, firefox_available
from ..peer_stats import PAGE_STATS_JS, RECORD_PEERS_JS
from ..support import Server

pytestmark = [
    pytest.mark.skipif(not b.chromium_available(), reason="Debian chromium is installed by scripts/services.sh"),
    pytest.mark.skipif(not firefox_available(),
                       reason="firefox-esr and tests/ui's puppeteer-core are installed by scripts/services.sh"),
    pytest.mark.skipif(os.geteuid() != 0, reason="the loopback media link needs root (CI runs as root)"),
]

async def chromium_stats(page: Page) -> dict[str, Any]:
    result: dict[str, Any] = await page.evaluate(PAGE_STATS_JS)
    return result


async def firefox_stats(page: Firefox) -> dict[str, Any]:
    result: dict[str, Any] = await page.evaluate(PAGE_STATS_JS)
    return result


async def receiving(read: Any, label: str, timeout: float = 30.0) -> dict[str, Any]:
    """Until the page has decoded video frames and received audio packets, and both keep rising."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    first: dict[str, Any] | None = None
    last: dict[str, Any] = {}
    while loop.time() < deadline:
        last = await read()
        if last["video_frames"] > 0 and last["audio_packets"] > 0:
            if first is None:
                first = last
            elif last["video_frames"] > first["video_frames"] and last["audio_packets"] > first["audio_packets"]:
                return last
        await asyncio.sleep(0.5)
    raise AssertionError(f"{label}: no rising video frames and audio packets within {timeout}s: {last}")


async def test_firefox_host_and_chromium_guest_see_and_hear_each_other(
        media_server: Server, api: MeetingsClient, chromium: Browser, firefox: Firefox) -> None:
    room = api.create_room({"display_name": "Firefox and Chromium", "join_approval_level": "none"})
    await firefox.init_script(RECORD_PEERS_JS)
    await firefox.goto(room["_links"]["host_url"]["href"])
    await firefox.fill("#name", "Fiona Firefox")
    await firefox.click("#join")
    await firefox.wait_function("() => window.__meetkit && window.__meetkit.state === 'joined'", timeout=30)
    assert await firefox.evaluate("() => window.__meetkit.role") == "host"

    ctx = await b.new_context(chromium, media_server.base_url)
    await ctx.add_init_script(RECORD_PEERS_JS)
    guest = await ctx.new_page()
    await b.join(guest, room["_links"]["guest_url"]["href"], "Gus Chromium")
    await b.wait_state(guest, "joined", timeout=30)

    in_chromium = await receiving(lambda: chromium_stats(guest), "Chromium guest")
    in_firefox = await receiving(lambda: firefox_stats(firefox), "Firefox host")
    assert in_chromium["frame_width"] > 0 and in_firefox["frame_width"] > 0, (in_chromium, in_firefox)

    # Firefox sends its layers once Janus's answer accepts them (rid h/m/l, docs/media.md).
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    out = await firefox_stats(firefox)
    while len(set(out["rids"])) < 2 and loop.time() < deadline:
        await asyncio.sleep(0.5)
        out = await firefox_stats(firefox)
    assert len(set(out["rids"])) >= 2, out
    await ctx.close()
