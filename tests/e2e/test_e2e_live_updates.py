"""Live room updates in Chromium (issue 13): a PATCH of the room's features, theme or approval level,
and an edit of its theme, reach the running meeting's pages within a second — no reload, nobody
re-joins."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from playwright.async_api import Browser, Page

from meetkit.client import MeetingsClient

from .. import browser as b
from .. import ui_support as ui
from ..signalling_client import Peer
from ..support import Server

ACCENT_JS = "() => getComputedStyle(document.documentElement).getPropertyValue('--accent').trim().toLowerCase()"


async def _within(what: str, check: Callable[[], Awaitable[bool]], limit: float = 1.0) -> float:
    """Seconds until ``check()`` holds; fails past ``limit`` (and a little slack for the poll)."""
    start = time.monotonic()
    while not await check():
        assert time.monotonic() - start < limit, f"{what}: not within {limit} s"
        await asyncio.sleep(0.02)
    return time.monotonic() - start


async def test_a_patch_reaches_the_running_meeting(media_server: Server, api: MeetingsClient,
                                                   chromium: Browser) -> None:
    theme = api.create_theme({"theme_name": "live-e2e", "main_color": "#12ab34", "brand_text": "Before"})
    expires = (datetime.now(UTC) + timedelta(days=7)).strftime("%Y-%m-%d %H:%M:%S")
    room = api.create_room({"display_name": "Live", "type": "long_term", "expires_at": expires,
                            "join_approval_level": "none"})  # (an instant room cannot be updated)
    host_ctx = await ui.context(chromium, media_server.base_url)
    guest_ctx = await ui.context(chromium, media_server.base_url)
    late_ctx = await ui.context(chromium, media_server.base_url)
    try:
        host = await ui.enter(host_ctx, room["_links"]["host_url"]["href"], "Hana", mic=False, camera=False)
        guest = await ui.enter(guest_ctx, room["_links"]["guest_url"]["href"], "Gus", mic=False, camera=False)
        pages: list[Page] = [host, guest]
        assert all([await p.is_visible("#btn-chat") for p in pages])

        # Features: the chat goes from both pages, recording from the host's.
        api.update_room(room["id"], {"available_features": {"is_chat_available": False,
                                                            "is_recording_available": False}})
        took = await _within("chat and recording hidden", lambda: _all(
            [*(_hidden(p, "#btn-chat") for p in pages), _hidden(host, "#btn-record")]))
        print(f"live update: features {took * 1000:.0f} ms")

        # The theme: set on the room, then edited.
        api.update_room(room["id"], {"theme_id": theme["theme_id"]})
        await _within("the room's new theme", lambda: _all([_accent(p, "#12ab34") for p in pages]))
        assert await host.inner_text("#brand-text") == "Before"
        api.update_theme(theme["theme_id"], {"main_color": "#aa3300", "brand_text": "After"})
        took = await _within("the edited theme", lambda: _all([_accent(p, "#aa3300") for p in pages]))
        print(f"live update: theme edit {took * 1000:.0f} ms")
        assert await guest.inner_text("#brand-text") == "After"

        # The approval level: a newcomer waits; back to "none", they are let in.
        api.update_room(room["id"], {"join_approval_level": "explicit_approval"})
        late = await ui.enter(late_ctx, room["_links"]["guest_url"]["href"], "Ida", mic=False, camera=False,
                              state="lobby")
        api.update_room(room["id"], {"join_approval_level": "none"})
        took = await _within("the waiting guest let in", lambda: _state(late, "joined"))
        print(f"live update: approval {took * 1000:.0f} ms")

        # Chat back on: the button returns, and a message goes through.
        api.update_room(room["id"], {"available_features": {"is_chat_available": True}})
        await _within("chat shown again", lambda: _all([_visible(p, "#btn-chat") for p in pages]))
        assert await _hidden(host, "#btn-record")  # (only what the PATCH named changed)
        for p in pages:  # nobody was reloaded: both pages are still in the meeting they joined
            assert await b.state(p) == "joined"
    finally:
        for ctx in (late_ctx, guest_ctx, host_ctx):
            await ctx.close()


async def _all(checks: list[Awaitable[bool]]) -> bool:
    return all(await asyncio.gather(*checks))


async def _hidden(page: Page, selector: str) -> bool:
    return not await page.is_visible(selector)


async def _visible(page: Page, selector: str) -> bool:
    return await page.is_visible(selector)


async def _accent(page: Page, color: str) -> bool:
    return bool(await page.evaluate(ACCENT_JS) == color)


async def _state(page: Page, wanted: str) -> bool:
    return await b.state(page) == wanted


async def test_language_default_follows_the_browser(media_server: Server, api: MeetingsClient,
                                                    chromium: Browser) -> None:
    """``ui_settings.language: "default"`` is kept as such and each page takes its browser's language; a
    room left without a language stays English, as the contract says."""
    room = api.create_room({"display_name": "Sprachen", "ui_settings": {"language": "Default"}})
    assert room["ui_settings"] == {"language": "default"}
    plain = api.create_room({"display_name": "Plain"})
    for locale, url, wanted in (("de-DE", room, "Beitreten"), ("fr-FR", room, "Rejoindre"),
                                ("de-DE", plain, "Join")):
        ctx = await chromium.new_context(locale=locale)
        try:
            page = await ctx.new_page()
            await page.goto(url["_links"]["guest_url"]["href"])
            await page.wait_for_selector("#join")
            assert (await page.inner_text("#join")).strip() == wanted, locale
        finally:
            await ctx.close()


async def test_the_language_switcher_relabels_the_page_and_arabic_is_right_to_left(
        media_server: Server, api: MeetingsClient, chromium: Browser) -> None:
    room = api.create_room({"display_name": "Babel", "join_approval_level": "none",
                            "available_features": {"is_locale_switcher_available": True}})
    ctx = await ui.context(chromium, media_server.base_url)
    try:
        page = await ui.enter(ctx, room["_links"]["host_url"]["href"], "Hana", mic=False, camera=False)
        assert await page.is_visible("#language-select")
        assert await page.get_attribute("#btn-leave .label", "data-i18n") == "leave"
        assert (await page.inner_text("#btn-leave")).strip() == "Leave"
        codes = await page.eval_on_selector_all("#language-select option", "os => os.map(o => o.value)")
        assert {"en", "es", "fr", "de", "it", "pt", "nl", "ja", "zh", "ar", "he"} <= set(codes)
        for code, leave in (("it", "Esci"), ("ja", "退出"), ("ar", "مغادرة")):
            await page.select_option("#language-select", code)
            assert (await page.inner_text("#btn-leave")).strip() == leave, code
            assert await page.evaluate("() => document.documentElement.lang") == code
        # Arabic: the document is right to left, and the control bar is mirrored (Leave at the start).
        assert await page.evaluate("() => getComputedStyle(document.body).direction") == "rtl"
        leave_box = await page.locator("#btn-leave").bounding_box()
        mic_box = await page.locator("#btn-mic").bounding_box()
        assert leave_box and mic_box and mic_box["x"] > leave_box["x"]  # (left to right: the microphone first)
        await b.screenshot(page, "language-ar-1280")
        # The choice is kept in this browser: a reload comes back in Arabic, a dynamic label too.
        await page.reload()
        await page.wait_for_selector("#join")
        assert (await page.inner_text("#join")).strip() == "انضمام"
        assert await page.evaluate("() => document.documentElement.dir") == "rtl"
    finally:
        await ctx.close()

    # Without the flag, no control (and the room's language decides).
    room2 = api.create_room({"display_name": "Mono", "available_features": {"is_locale_switcher_available": False}})
    ctx = await ui.context(chromium, media_server.base_url)
    try:
        page = await ui.prejoin(ctx, room2["_links"]["guest_url"]["href"])
        assert not await page.is_visible("#language-select")
    finally:
        await ctx.close()


async def test_a_meeting_that_feels_finished(media_server: Server, api: MeetingsClient, chromium: Browser) -> None:
    """Keyboard shortcuts (M, V, C, H; Escape closes a panel and gives the focus back), an empty chat that
    says so, toasts for a raised hand and for a chat message while the chat is closed, raised hands at
    the top of the participant list."""
    room = api.create_room({"display_name": "Finished", "join_approval_level": "none"})
    host_ctx = await ui.context(chromium, media_server.base_url)
    guest_ctx = await ui.context(chromium, media_server.base_url)
    try:
        host = await ui.enter(host_ctx, room["_links"]["host_url"]["href"], "Hana", camera=False)
        guest = await ui.enter(guest_ctx, room["_links"]["guest_url"]["href"], "Gus", mic=False, camera=False)
        await host.click("#grid")  # (the focus on the page, not in a field)
        before = await host.get_attribute("#btn-mic", "aria-pressed")
        await host.keyboard.press("m")
        assert await host.get_attribute("#btn-mic", "aria-pressed") != before
        await host.keyboard.press("c")
        assert await host.is_visible("#chat")
        placeholder = await host.evaluate(
            "() => getComputedStyle(document.querySelector('#chat-messages'), '::before').content")
        assert "No messages yet." in placeholder
        await host.keyboard.press("Escape")
        assert not await host.is_visible("#chat")
        assert await host.evaluate("() => document.activeElement.id") == "btn-chat"

        # The guest raises a hand (H) and writes while the host's chat is closed: two toasts.
        await guest.click("#grid")
        await guest.keyboard.press("h")
        await host.wait_for_selector(".toast:has-text('Gus raised a hand')", timeout=5000)
        await guest.keyboard.press("c")
        await guest.fill("#chat-input", "can you hear me?")
        await guest.press("#chat-input", "Enter")
        await host.wait_for_selector(".toast:has-text('Gus: can you hear me?')", timeout=5000)
        # Typing M in the chat box types an "m": no shortcut there.
        mic = await guest.get_attribute("#btn-mic", "aria-pressed")
        await guest.press("#chat-input", "m")
        assert await guest.get_attribute("#btn-mic", "aria-pressed") == mic
        assert await guest.input_value("#chat-input") == "m"

        # Raised hands come first in the list.
        await host.click("#btn-participants")
        first = host.locator("#participant-list li").first
        await first.wait_for(timeout=5000)
        assert await first.get_attribute("data-hand") == "up"
        await b.screenshot(host, "finished-1280")
    finally:
        await guest_ctx.close()
        await host_ctx.close()


async def test_the_lobby_and_the_end_screens(media_server: Server, api: MeetingsClient, chromium: Browser) -> None:
    """The lobby shows how one will look, and does not promise a host who is not there; the denied,
    removed and ended screens each offer a way on."""
    room = api.create_room({"display_name": "Doors", "join_approval_level": "explicit_approval"})
    guest_ctx = await ui.context(chromium, media_server.base_url)
    host_ctx = await ui.context(chromium, media_server.base_url)
    try:
        guest = await ui.enter(guest_ctx, room["_links"]["guest_url"]["href"], "Gus", state="lobby")
        assert "not here yet" in await guest.inner_text("#lobby-reason")
        assert await guest.is_visible("#lobby-preview")
        assert await guest.evaluate("() => !!document.querySelector('#lobby-preview').srcObject")
        assert not await guest.is_visible("#lobby-again")
        host = await ui.enter(host_ctx, room["_links"]["host_url"]["href"], "Hana", mic=False, camera=False)
        await guest.wait_for_function(
            "() => document.querySelector('#lobby-reason').textContent.includes('will let you in')", timeout=5000)
        await b.screenshot(guest, "lobby-1280")
        # The host's waiting card folds to its title and back.
        await host.wait_for_selector("#waiting-list li", timeout=10000)
        await host.click("#waiting-toggle")
        assert not await host.is_visible("#waiting-list") and await host.is_visible("#waiting-title")
        assert await host.get_attribute("#waiting-toggle", "aria-expanded") == "false"
        await host.click("#waiting-toggle")
        assert await host.is_visible("#waiting-list")
        # Denied: a way on is to try again.
        await host.wait_for_selector("#waiting [data-participant-id] .deny", state="attached", timeout=10000)
        await host.eval_on_selector("#waiting [data-participant-id] .deny", "el => el.click()")
        await b.wait_state(guest, "denied", timeout=10)
        assert await guest.is_visible("#denied-retry")
        # Removed: ask to join again (a reload lands in the lobby, for the host to decide).
        await guest.click("#denied-retry")
        await guest.fill("#name", "Gus")
        await guest.click("#join")
        await b.wait_state(guest, "lobby", timeout=10)
        await host.wait_for_selector("#waiting [data-participant-id] .admit", state="attached", timeout=10000)
        await host.eval_on_selector("#waiting [data-participant-id] .admit", "el => el.click()")
        await b.wait_state(guest, "joined", timeout=10)
        gus = await ui.participant_id(guest)
        await host.evaluate("(id) => window.__meetkit.socket.send(JSON.stringify({type: 'host.remove', "
                            "participant_id: id}))", gus)
        await b.wait_state(guest, "removed", timeout=10)
        assert await guest.is_visible("#removed-ask")
        # Ended: go back where the link came from (this page had one before it).
        await host.evaluate("() => window.__meetkit.socket.send(JSON.stringify({type: 'host.end'}))")
        await b.wait_state(host, "ended", timeout=10)
        assert await host.is_visible("#ended-back") == (await host.evaluate("() => history.length") > 1)
    finally:
        await host_ctx.close()
        await guest_ctx.close()


async def test_phone_controls_are_44_px_touch_targets(media_server: Server, api: MeetingsClient,
                                                      chromium: Browser) -> None:
    room = api.create_room({"display_name": "Thumbs", "join_approval_level": "none"})
    ctx = await ui.context(chromium, media_server.base_url, width=375, height=740)
    try:
        page = await ui.enter(ctx, room["_links"]["host_url"]["href"], "Hana", mic=False, camera=False)
        await page.click("#btn-participants")  # a panel open: its close button counts too
        sizes = await page.evaluate("""() => [...document.querySelectorAll('#controls button, .panel button')]
            .filter(el => el.offsetParent !== null && getComputedStyle(el).visibility !== 'hidden')
            .map(el => { const r = el.getBoundingClientRect(); return [el.id || el.className, r.width, r.height]; })""")
        assert sizes
        small = [s for s in sizes if s[1] < 43.5 or s[2] < 43.5]
        assert not small, small
        await b.screenshot(page, "phone-controls-375")
    finally:
        await ctx.close()


async def test_a_phone_fills_its_screen_with_a_2x2_grid(media_server: Server, api: MeetingsClient,
                                                        chromium: Browser) -> None:
    room = api.create_room({"display_name": "Four", "join_approval_level": "none"})
    code = room["meeting_code"]
    ctx = await ui.context(chromium, media_server.base_url, width=375, height=740)
    others = [await Peer.open(media_server.base_url, code, name) for name in ("Gus", "Ida", "Jo")]
    try:
        for peer in others:
            await peer.expect("admitted")
        page = await ui.enter(ctx, room["_links"]["host_url"]["href"], "Hana", mic=False, camera=False)
        await page.wait_for_function("() => document.querySelectorAll('#grid .tile').length === 4", timeout=10000)
        await page.wait_for_timeout(300)  # (the layout follows the next frame)
        grid = await page.locator("#grid").bounding_box()
        boxes = [await t.bounding_box() for t in await page.locator("#grid .tile").all()]
        assert grid and all(boxes)
        xs, ys = {round(bx["x"]) for bx in boxes if bx}, {round(bx["y"]) for bx in boxes if bx}
        assert len(xs) == 2 and len(ys) == 2, boxes  # two columns, two rows
        area = sum(bx["width"] * bx["height"] for bx in boxes if bx)
        assert area >= 0.85 * grid["width"] * grid["height"], (area, grid)  # the tiles fill the grid
        await b.screenshot(page, "phone-grid-375")
    finally:
        for peer in others:
            await peer.close()
        await ctx.close()
