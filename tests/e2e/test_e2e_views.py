"""Views in Chromium (issue 13): pin a participant (speaker view with them big), speaker view
following the speaker, back to the grid, and full screen."""

from __future__ import annotations

from playwright.async_api import Browser, BrowserContext, Page

from meetkit.client import MeetingsClient

from .. import browser as b
from .. import ui_support as ui
from ..support import Server


async def _width(page: Page, participant_id: str) -> float:
    box = await page.locator(f'#grid .tile[data-participant-id="{participant_id}"]').bounding_box()
    assert box is not None
    return float(box["width"])


async def test_pin_speaker_view_and_full_screen(media_server: Server, api: MeetingsClient, chromium: Browser) -> None:
    room = api.create_room({"display_name": "Views", "join_approval_level": "none"})
    contexts: list[BrowserContext] = []
    try:
        for width, height in ((1280, 800), (1280, 800), (1280, 800), (375, 740)):
            contexts.append(await ui.context(chromium, media_server.base_url, width=width, height=height))
        host = await ui.enter(contexts[0], room["_links"]["host_url"]["href"], "Hana", mic=False, camera=False)
        ada = await ui.enter(contexts[1], room["_links"]["guest_url"]["href"], "Ada", mic=False, camera=False)
        bo = await ui.enter(contexts[2], room["_links"]["guest_url"]["href"], "Bo", mic=False, camera=False)
        phone = await ui.enter(contexts[3], room["_links"]["guest_url"]["href"], "Pia", mic=False, camera=False)
        ada_id, bo_id = await ui.participant_id(ada), await ui.participant_id(bo)
        await host.wait_for_selector(f'#grid .tile[data-participant-id="{bo_id}"]', timeout=10000)

        # Pin Bo (the pin on his tile, as a person hovers it): speaker view with Bo big, first.
        tile = host.locator(f'#grid .tile[data-participant-id="{bo_id}"]')
        await tile.hover()
        await tile.locator(".tile-pin").click()
        await host.wait_for_function("() => document.querySelector('#grid').dataset.view === 'speaker'")
        first = host.locator("#grid .tile").first
        assert await first.get_attribute("data-participant-id") == bo_id
        assert await first.get_attribute("class") and "featured" in (await first.get_attribute("class") or "")
        assert await tile.locator(".tile-pin").get_attribute("aria-pressed") == "true"
        assert await host.get_attribute("#btn-speaker", "aria-pressed") == "true"
        assert await _width(host, bo_id) > 2 * await _width(host, ada_id)
        await b.screenshot(host, "speaker-view-1280")

        # Pinned on another page is that page's own choice: the others still see the grid.
        assert await ada.evaluate("() => document.querySelector('#grid').dataset.view") == "grid"

        # Unpin: still speaker view; the grid again from its control.
        await tile.locator(".tile-pin").click()
        await host.wait_for_function(f"() => !document.querySelector('#grid .tile[data-participant-id=\"{bo_id}\"]')"
                                     ".classList.contains('pinned')")
        await host.click("#btn-speaker")
        await host.wait_for_function("() => document.querySelector('#grid').dataset.view === 'grid'")
        assert abs(await _width(host, bo_id) - await _width(host, ada_id)) < 2

        # On a phone: the pin is there to the finger; speaker view from the More menu.
        pin = phone.locator(f'#grid .tile[data-participant-id="{ada_id}"] .tile-pin')
        await phone.wait_for_selector(f'#grid .tile[data-participant-id="{ada_id}"]', timeout=10000)
        await pin.click()
        await phone.wait_for_function("() => document.querySelector('#grid').dataset.view === 'speaker'")
        assert await phone.locator("#grid .tile").first.get_attribute("data-participant-id") == ada_id
        await b.screenshot(phone, "speaker-view-375")
        await phone.click("#btn-more")
        await phone.click("#btn-speaker")
        await phone.wait_for_function("() => document.querySelector('#grid').dataset.view === 'grid'")

        # Full screen: the whole meeting, and back (a host's bar is full at 1280 px: it is in More).
        for on in (True, False):
            if not await host.is_visible("#btn-fullscreen"):
                await host.click("#btn-more")
            await host.click("#btn-fullscreen")
            await host.wait_for_function("on => (document.fullscreenElement === document.documentElement) === on",
                                         arg=on)
            # The control follows on the fullscreenchange event, which comes a frame after the element.
            await host.wait_for_function("on => { const el = document.querySelector('#btn-fullscreen');"
                                         " return (el.getAttribute('aria-pressed') ?? el.getAttribute('aria-checked'))"
                                         " === String(on); }", arg=on, timeout=5000)
    finally:
        for ctx in contexts:
            await ctx.close()
