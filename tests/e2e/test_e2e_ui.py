"""The meeting UI as a person meets it, in Debian's Chromium against a real server with its own Janus:
the control bar at every width and locale, the participant list, blocked devices, toggles and
contrast, axe-core on each screen, initials, speaking detection, round toggles and inviting people
(issue 9, "UI bugs"). Hooks: ARIA roles and English names plus the selectors of docs/ui.md."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Playwright, expect

from meetkit.client import MeetingsClient

from .. import browser as b
from .. import ui_support as ui
from ..support import Server

WIDTHS = [360, 480, 600, 700, 830, 1010, 1280]
NAMES = {
    "en": {"leave": "Leave", "end": "End for all", "more": r"^(More|Mehr)\b"},
    "de": {"leave": "Verlassen", "end": "Für alle beenden", "more": r"^(More|Mehr|Weitere)\b"},
}


def urls(api: MeetingsClient, **options: Any) -> tuple[str, str, dict[str, Any]]:
    room = api.create_room({"display_name": "UI", **options})
    return room["_links"]["host_url"]["href"], room["_links"]["guest_url"]["href"], room


# ------------------------------------------------------------------ 1. the control bar

@pytest.mark.parametrize("lang", ["en", "de"])
async def test_control_bar_fits_every_width(lang: str, media_server: Server, api: MeetingsClient,
                                            chromium: Browser) -> None:
    host_url, _, _ = urls(api, ui_settings={"language": lang})
    names = NAMES[lang]
    ctx = await ui.context(chromium, media_server.base_url, width=1280, height=720)
    try:
        page = await ui.enter(ctx, host_url, "Hana Host")
        problems = []  # every width is tried, so one run tells all that is wrong
        for width in WIDTHS:
            await page.set_viewport_size({"width": width, "height": 720})
            try:
                leave = page.locator("#controls").get_by_role("button", name=names["leave"], exact=True)
                await expect(leave, f"{width}px: Leave visible").to_be_visible(timeout=3000)
                await expect(leave, f"{width}px: Leave inside the viewport").to_be_in_viewport(ratio=1.0,
                                                                                              timeout=3000)
                await ui.controls_fit(page, width)
                if width >= 500:  # a host can end the meeting wherever the bar has room for it today
                    await ui.reach_end(page, names, width)
            except AssertionError as err:
                text = " / ".join(str(err).splitlines()[:2])
                problems.append(text if text.startswith(f"{width}px") else f"{width}px: {text}")
                await page.keyboard.press("Escape")  # a menu left open must not spoil the next width
        assert not problems, "\n".join(problems)
    finally:
        await ctx.close()


# ------------------------------------------------------------------ 2. the participant list

async def test_participant_list_shows_mic_and_camera_off(media_server: Server, api: MeetingsClient,
                                                         chromium: Browser) -> None:
    host_url, guest_url, _ = urls(api)
    host_ctx = await ui.context(chromium, media_server.base_url)
    guest_ctx = await ui.context(chromium, media_server.base_url)
    try:
        host = await ui.enter(host_ctx, host_url, "Hana Host")
        guest = await ui.enter(guest_ctx, guest_url, "Bea Quiet", mic=False, camera=False)
        guest_id = await ui.participant_id(guest)
        await host.click("#btn-participants")
        row = host.locator(f'#participant-list [data-participant-id="{guest_id}"]')
        await expect(row).to_have_attribute("data-mic", "off", timeout=10000)
        await expect(row).to_have_attribute("data-camera", "off", timeout=10000)
        await expect(ui.state_icon(row, "Microphone off")).to_be_visible()
        await expect(ui.state_icon(row, "Camera off")).to_be_visible()
        mine = host.locator(f'#participant-list [data-participant-id="{await ui.participant_id(host)}"]')
        await expect(mine).to_have_attribute("data-mic", "on")
        await expect(mine.get_by_label("Microphone off", exact=True)).to_have_count(0)
    finally:
        await guest_ctx.close()
        await host_ctx.close()


# ------------------------------------------------------------------ 3. blocked devices

async def test_blocked_microphone_is_shown_with_retry(media_server: Server, api: MeetingsClient,
                                                      chromium: Browser) -> None:
    _, guest_url, _ = urls(api)
    ctx = await ui.context(chromium, media_server.base_url, permissions=["camera"])
    await ctx.add_init_script(ui.blocking_script("audio"))
    try:
        page = await ui.enter(ctx, guest_url, "Mo Blocked")
        await expect(page.locator("#btn-mic")).to_have_accessible_name(re.compile("blocked", re.I))
        # An explanation beside the control, not only its own label.
        await ui.shown(page, r"(microphone|mic\b).*(blocked|allow|permission)|(blocked|allow|permission).*"
                             r"(microphone|mic\b)", exclude="#btn-mic")
        await expect(page.get_by_role("button", name=re.compile(r"^Retry", re.I)).first).to_be_visible()
        own = page.locator("#grid .tile.self")
        await expect(own).to_have_class(re.compile(r"\bmuted\b"))
        await expect(own.locator(".tile-mic")).to_be_visible()
    finally:
        await ctx.close()


async def test_blocked_camera_alone_has_a_notice(media_server: Server, api: MeetingsClient,
                                                 chromium: Browser) -> None:
    _, guest_url, _ = urls(api)
    ctx = await ui.context(chromium, media_server.base_url, permissions=["microphone"])
    await ctx.add_init_script(ui.blocking_script("video"))
    try:
        page = await ui.prejoin(ctx, guest_url)
        text = await ui.shown(page, r"camera.*(blocked|allow|permission)|(blocked|allow|permission).*camera")
        # ... about the camera alone: the microphone works.
        assert not re.search(r"camera and microphone|microphone and camera", text, re.I), text
        assert "blocked" not in (await ui.accessible_name(page.locator("#prejoin-mic"))).lower()
    finally:
        await ctx.close()


# ------------------------------------------------------------------ 4. toggles, contrast, axe-core

async def test_mic_toggles_are_announced_as_they_are(media_server: Server, api: MeetingsClient,
                                                     chromium: Browser) -> None:
    _, guest_url, _ = urls(api)
    ctx = await ui.context(chromium, media_server.base_url)
    try:
        page = await ui.prejoin(ctx, guest_url)
        await ui.assert_mic_toggle(page.locator("#prejoin-mic"), live=True)
        await page.fill("#name", "Tia Toggle")
        await page.click("#join")
        await b.wait_state(page, "joined")
        mic = page.locator("#btn-mic")
        await ui.assert_mic_toggle(mic, live=True)
        await mic.click()
        await expect(page.locator("#grid .tile.self")).to_have_class(re.compile(r"\bmuted\b"))
        await ui.assert_mic_toggle(mic, live=False)
    finally:
        await ctx.close()


async def test_leave_end_and_accent_labels_have_aa_contrast(media_server: Server, api: MeetingsClient,
                                                            chromium: Browser) -> None:
    host_url, _, _ = urls(api)
    ctx = await ui.context(chromium, media_server.base_url)
    try:
        page = await ui.enter(ctx, host_url, "Hana Host")
        await page.click("#btn-chat")
        await expect(page.locator("#chat-export")).to_be_visible()
        await page.mouse.move(2, 2)  # the colours at rest, not under the pointer
        low = []
        for sel in ("#btn-leave", "#btn-end", "#btn-chat", "#chat-export"):
            ratio, colours = await ui.label_contrast(page.locator(sel))
            if ratio < 4.5:
                low.append(f"{sel} {colours['text']!r}: {ratio:.2f}:1 ({colours['fg']} on {colours['bg']})")
        assert not low, "below WCAG AA 4.5:1: " + "; ".join(low)
    finally:
        await ctx.close()


async def test_axe_prejoin(media_server: Server, api: MeetingsClient, chromium: Browser) -> None:
    _, guest_url, _ = urls(api)
    ctx = await ui.context(chromium, media_server.base_url)
    try:
        page = await ui.prejoin(ctx, guest_url)
        found = await ui.axe_violations(page)
        assert not found, ui.axe_report("pre-join", found)
    finally:
        await ctx.close()


async def test_axe_lobby(media_server: Server, api: MeetingsClient, chromium: Browser) -> None:
    _, guest_url, _ = urls(api, join_approval_level="explicit_approval")
    ctx = await ui.context(chromium, media_server.base_url)
    try:
        page = await ui.enter(ctx, guest_url, "Gus Guest", state="lobby")
        found = await ui.axe_violations(page)
        assert not found, ui.axe_report("lobby", found)
    finally:
        await ctx.close()


async def test_axe_meeting(media_server: Server, api: MeetingsClient, chromium: Browser) -> None:
    host_url, _, _ = urls(api)
    ctx = await ui.context(chromium, media_server.base_url)
    try:
        page = await ui.enter(ctx, host_url, "Hana Host")
        await expect(page.locator("#grid .tile.self")).to_be_visible()
        found = await ui.axe_violations(page)
        assert not found, ui.axe_report("meeting", found)
    finally:
        await ctx.close()


# ------------------------------------------------------------------ 5. initials

async def test_initials_of_names_with_numbers(media_server: Server, api: MeetingsClient, chromium: Browser) -> None:
    _, guest_url, _ = urls(api)
    wanted = {"Ada Lovelace": "AL", "Bot 10": "BO", "zoë": "ZO"}
    contexts = [await ui.context(chromium, media_server.base_url) for _ in wanted]
    try:
        ids = {}
        for ctx, name in zip(contexts, wanted, strict=True):
            page = await ui.enter(ctx, guest_url, name, camera=False)
            ids[name] = await ui.participant_id(page)
        shown = {}
        for name, pid in ids.items():  # the last one to join sees everyone's tile
            avatar = page.locator(f'#grid .tile[data-participant-id="{pid}"] .avatar')
            await expect(avatar).to_be_visible(timeout=10000)
            shown[name] = (await avatar.inner_text()).strip()
        assert shown == wanted
    finally:
        for ctx in contexts:
            await ctx.close()


# ------------------------------------------------------------------ 6. speaking detection

async def test_someone_already_talking_is_flagged(
        media_server: Server, api: MeetingsClient, pw: Playwright, chromium: Browser,
        tmp_path: Path) -> None:
    """Talking when admitted (someone is already there), and talking when a newcomer arrives."""
    _, guest_url, _ = urls(api)
    # The talker's browser hears speech-like sound instead of Chromium's short beep once a second.
    sound = ui.speech_wav(tmp_path / "talking.wav")
    talker_browser = await pw.chromium.launch(
        executable_path=b.CHROMIUM, headless=True, args=[*b.FLAGS, f"--use-file-for-fake-audio-capture={sound}"])
    early_ctx = await ui.context(chromium, media_server.base_url)
    late_ctx = await ui.context(chromium, media_server.base_url)
    try:
        early = await ui.enter(early_ctx, guest_url, "Eve Early", mic=False)
        talker_ctx = await ui.context(talker_browser, media_server.base_url)
        talker = await ui.prejoin(talker_ctx, guest_url)
        # Precondition: the talker's microphone hears talking (measured apart from the UI).
        level = await talker.evaluate(ui.LOUDEST_JS)
        assert level > 0.05, f"the fake microphone is too quiet: RMS {level}"
        await talker.fill("#name", "Tom Talker")
        await talker.click("#join")
        await b.wait_state(talker, "joined")
        talker_id = await ui.participant_id(talker)
        late = await ui.enter(late_ctx, guest_url, "Nia Newcomer", mic=False)
        problems = []
        for who, page in (("own page", talker), ("already there when the talker was admitted", early),
                          ("joining later", late)):
            tile = page.locator(f'#grid .tile[data-participant-id="{talker_id}"]')
            await expect(tile).to_be_visible(timeout=10000)
            try:
                await expect(tile).to_have_class(re.compile(r"\bspeaking\b"), timeout=10000)
            except AssertionError:
                problems.append(f"the talker is not flagged as talking: {who}")
        assert not problems, "; ".join(problems)
    finally:
        await late_ctx.close()
        await early_ctx.close()
        await talker_browser.close()


# ------------------------------------------------------------------ 7. round pre-join toggles

async def test_prejoin_toggles_are_round(media_server: Server, api: MeetingsClient, chromium: Browser) -> None:
    _, guest_url, _ = urls(api)
    ctx = await ui.context(chromium, media_server.base_url)
    try:
        page = await ui.prejoin(ctx, guest_url)
        for sel in ("#prejoin-mic", "#prejoin-camera"):
            await expect(page.locator(sel)).to_be_visible()
            box = await page.locator(sel).evaluate(ui.ROUND_JS)
            assert box["smallest"] >= min(box["width"], box["height"]) / 2 - 0.5, f"{sel} is not round: {box}"
    finally:
        await ctx.close()


# ------------------------------------------------------------------ 8. inviting people

async def test_host_invites_from_the_meeting(media_server: Server, api: MeetingsClient, chromium: Browser) -> None:
    host_url, guest_url, room = urls(api)
    ctx = await ui.context(chromium, media_server.base_url,
                           permissions=["camera", "microphone", "clipboard-read", "clipboard-write"])
    try:
        page = await ui.enter(ctx, host_url, "Hana Host")
        # Alone in the room: an empty state with an Invite action of its own, outside the bar.
        empty = page.locator("#meeting").get_by_role("button", name=re.compile(r"^Invite", re.I)).or_(
            page.locator("#meeting").get_by_role("link", name=re.compile(r"^Invite", re.I)))
        await expect(empty.first).to_be_attached(timeout=10000)
        outside = [await el.evaluate("el => !el.closest('#controls') && el.checkVisibility()")
                   for el in await empty.all()]
        assert any(outside), "alone in the room, no visible Invite action outside the control bar"
        await ui.open_invite(page)
        await ui.shown(page, re.escape(guest_url))
        code = room["meeting_code"]
        # The code on its own (grouped or not), not only as the end of the link.
        await ui.shown(page, r"(?<![/\d])" + r"[\s\-]?".join(code) + r"(?!\d)")
        await page.get_by_role("button", name=re.compile(r"^Copy", re.I)).first.click()
        await page.wait_for_function("u => navigator.clipboard.readText().then(t => t === u)", arg=guest_url,
                                     timeout=5000)
    finally:
        await ctx.close()
