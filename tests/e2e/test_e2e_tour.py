"""A tour of the meeting at the three widths of the issue (375, 550, 1280 px), saving a screenshot of
each screen and panel (issue 13: "the run saves screenshots of each feature"): the lobby, the
meeting, chat, participants, speaker view, Arabic right to left, the end screen. Each stop also
checks the one thing it is there to show."""

from __future__ import annotations

import asyncio

from playwright.async_api import Browser, Page

from meetkit.client import MeetingsClient

from .. import browser as b
from .. import ui_support as ui
from ..signalling_client import Peer
from ..support import Server


async def _press(page: Page, selector: str) -> None:
    """Clicks a control, from the More menu when the width put it there."""
    if not await page.is_visible(selector):
        await page.click("#btn-more")
    await page.click(selector)


async def test_every_screen_at_375_550_and_1280(media_server: Server, api: MeetingsClient, chromium: Browser) -> None:
    room = api.create_room({"display_name": "Tour", "join_approval_level": "explicit_approval",
                            "available_features": {"is_locale_switcher_available": True}})
    host_ctx = await ui.context(chromium, media_server.base_url)
    try:
        host = await ui.enter(host_ctx, room["_links"]["host_url"]["href"], "Hana", mic=False, camera=False)
        for width, height in ((375, 740), (550, 760), (1280, 800)):
            ctx = await ui.context(chromium, media_server.base_url, width=width, height=height)
            try:
                guest = await ui.enter(ctx, room["_links"]["guest_url"]["href"], f"Gus {width}", mic=False,
                                       camera=False, state="lobby")
                assert await guest.is_visible("#lobby-preview") or await guest.is_visible("#lobby-reason")
                await b.screenshot(guest, f"tour-lobby-{width}")
                await host.click("#waiting .admit")
                await guest.wait_for_function("() => window.__meetkit.state === 'joined'", timeout=15000)
                await guest.wait_for_selector("#grid .tile", timeout=10000)
                await b.screenshot(guest, f"tour-meeting-{width}")

                await guest.click("#btn-chat")
                assert await guest.is_visible("#chat")
                await b.screenshot(guest, f"tour-chat-{width}")
                await guest.keyboard.press("Escape")
                await guest.wait_for_selector("#chat", state="hidden")

                await guest.click("#btn-participants")
                assert await guest.locator("#participant-list li").count() == 2
                await b.screenshot(guest, f"tour-participants-{width}")
                await guest.keyboard.press("Escape")

                await _press(guest, "#btn-speaker")
                await guest.wait_for_function("() => document.querySelector('#grid').dataset.view === 'speaker'")
                await b.screenshot(guest, f"tour-speaker-view-{width}")
                await _press(guest, "#btn-speaker")

                await guest.select_option("#language-select", "ar")
                assert await guest.evaluate("() => document.documentElement.dir") == "rtl"
                await b.screenshot(guest, f"tour-arabic-{width}")
                await guest.select_option("#language-select", "en")

                await guest.click("#btn-leave")
                await guest.wait_for_function("() => window.__meetkit.state === 'left'", timeout=10000)
                await b.screenshot(guest, f"tour-left-{width}")
            finally:
                await ctx.close()

        # Plurals and numbers by the language's own rules (Intl): people knock at once, and the host's
        # page in Arabic says how many with the form Arabic uses for 3 to 10, "أشخاص", its digits as
        # the browser writes them for "ar" (the knocks may reach the host in one update or two: the
        # toast counts those of its update).
        await host.select_option("#language-select", "ar")
        knocking = await asyncio.gather(*(Peer.open(media_server.base_url, room["meeting_code"], f"Knock {i}")
                                          for i in range(8)))
        try:
            await host.wait_for_function(
                "() => [...document.querySelectorAll('.toast')].some(t => /[0-9\u0660-\u0669]+ أشخاص/"
                ".test(t.textContent))", timeout=10000)
            await b.screenshot(host, "tour-host-waiting-arabic-1280")
        finally:
            for peer in knocking:
                await peer.close()
    finally:
        await host_ctx.close()
