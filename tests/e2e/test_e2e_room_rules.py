"""Room rules as people meet them in Chromium (issue 10, findings 7 and 9): the host's messages carry a
Host badge that a guest who calls itself "Host" does not get, the badge reads at WCAG AA, the host
exports the chat as JSON (with roles) and as text (one line per message, newlines escaped); a guest
the host removed who loads the page again in the same browser waits in the lobby."""

from __future__ import annotations

import json
from pathlib import Path

from playwright.async_api import Browser, Page, expect

from meetkit.client import MeetingsClient

from .. import browser as b
from .. import ui_support as ui
from ..support import Server


async def say(page: Page, text: str) -> None:
    if not await page.is_visible("#chat"):
        await page.click("#btn-chat")
    await page.fill("#chat-input", text)
    await page.press("#chat-input", "Enter")


async def test_the_host_is_marked_in_the_chat_and_the_export_cannot_be_forged(
        media_server: Server, api: MeetingsClient, chromium: Browser, tmp_path: Path) -> None:
    room = api.create_room({"display_name": "Chat\nroom", "join_approval_level": "none"})
    host_ctx = await ui.context(chromium, media_server.base_url)
    guest_ctx = await ui.context(chromium, media_server.base_url)
    try:
        host = await ui.enter(host_ctx, room["_links"]["host_url"]["href"], "Hana", mic=False, camera=False)
        guest = await ui.enter(guest_ctx, room["_links"]["guest_url"]["href"], "Host", mic=False, camera=False)
        # The chat box is one line; an attacker writes the frame itself.
        await guest.evaluate("""() => window.__meetkit.socket.send(JSON.stringify({type: 'chat.send',
            text: 'hi\\n[2026-01-01 00:00:00 UTC] [host] Hana: the password is 1234'}))""")
        await say(host, "I am the host")
        await guest.click("#btn-chat")
        messages = guest.locator("#chat-messages .msg:not(.pending)")
        await expect(messages).to_have_count(2, timeout=10000)
        fake, real = messages.nth(0), messages.nth(1)
        await expect(fake.locator(".msg-name")).to_have_text("Host")
        await expect(fake.locator(".msg-role")).to_have_count(0)  # called "Host", shown as a guest
        await expect(real.locator(".msg-role")).to_have_text("Host")
        await expect(real).to_have_class(r"msg from-host")
        ratio, colours = await ui.label_contrast(real.locator(".msg-role"))
        assert ratio >= 4.5, f"Host badge {ratio:.2f}:1 ({colours['fg']} on {colours['bg']})"
        if not await host.is_visible("#chat"):
            await host.click("#btn-chat")
        for sel in ("#chat-export", "#chat-export-json"):
            ratio, colours = await ui.label_contrast(host.locator(sel))
            assert ratio >= 4.5, f"{sel} {ratio:.2f}:1"
        async with host.expect_download() as json_download:
            await host.click("#chat-export-json")
        exported = json.loads(Path(await (await json_download.value).path()).read_text())
        assert [(m["name"], m["role"]) for m in exported["messages"]] == [("Host", "guest"), ("Hana", "host")]
        async with host.expect_download() as text_download:
            await host.click("#chat-export")
        text = Path(await (await text_download.value).path()).read_text(encoding="utf-8")
        lines = text.splitlines()
        assert lines[0] == "Chat of Chat room" and lines[1] == ""  # the room's newline is no line either
        assert len(lines) == 4
        assert lines[2].endswith("] [guest] Host: hi\\n[2026-01-01 00:00:00 UTC] [host] Hana: the password is 1234")
        assert lines[3].endswith("] [host] Hana: I am the host")
    finally:
        for ctx in (host_ctx, guest_ctx):
            await ctx.close()


async def test_a_removed_guest_reloading_the_page_waits_in_the_lobby(
        media_server: Server, api: MeetingsClient, chromium: Browser) -> None:
    room = api.create_room({"display_name": "Removal", "join_approval_level": "none"})
    guest_url = room["_links"]["guest_url"]["href"]
    host_ctx = await ui.context(chromium, media_server.base_url)
    guest_ctx = await ui.context(chromium, media_server.base_url)
    try:
        host = await ui.enter(host_ctx, room["_links"]["host_url"]["href"], "Hana", mic=False, camera=False)
        guest = await ui.enter(guest_ctx, guest_url, "Gus", mic=False, camera=False)
        gus_id = await ui.participant_id(guest)
        await host.evaluate("""(id) => window.__meetkit.socket.send(JSON.stringify({type: 'host.remove',
            participant_id: id}))""", gus_id)
        await b.wait_state(guest, "removed")
        await guest.close()
        again = await ui.enter(guest_ctx, guest_url, "Gus", mic=False, camera=False, state="lobby")
        await expect(host.locator("#waiting")).to_be_visible(timeout=10000)
        note = host.locator("#waiting-list .w-removed")
        await expect(note).to_have_text("Removed earlier")  # the host decides knowing it
        ratio, colours = await ui.label_contrast(note)
        assert ratio >= 4.5, f"removed-earlier note {ratio:.2f}:1 ({colours['fg']} on {colours['bg']})"
        # Another browser (a new context: its own storage) walks straight in, as the room allows.
        other_ctx = await ui.context(chromium, media_server.base_url)
        try:
            await ui.enter(other_ctx, guest_url, "Ola", mic=False, camera=False)
        finally:
            await other_ctx.close()
        assert await again.evaluate("() => document.body.dataset.state") == "lobby"
    finally:
        for ctx in (host_ctx, guest_ctx):
            await ctx.close()
