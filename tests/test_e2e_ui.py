"""The meeting UI as a person meets it, in Debian's Chromium against a real server with its own Janus:
the control bar at every width and locale, the participant list, blocked devices, toggles and
contrast, axe-core on each screen, initials, speaking detection, round toggles and inviting people
(issue 9, "UI bugs"). Hooks: ARIA roles and English names plus the selectors of docs/ui.md."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from playwright.async_api import Browser, Page, Playwright, async_playwright, expect
from playwright.async_api import TimeoutError as PlaywrightTimeout

from meetkit.client import MeetingsClient

from . import browser as b
from . import ui_support as ui
from .support import Server, create_application, media_env, media_net, start_server, stop_server

WIDTHS = [360, 480, 600, 700, 830, 1010, 1280]
NAMES = {
    "en": {"leave": "Leave", "end": "End for all", "more": r"^(More|Mehr)\b"},
    "de": {"leave": "Verlassen", "end": "Für alle beenden", "more": r"^(More|Mehr|Weitere)\b"},
}


@pytest.fixture(scope="module")
def media_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    media_net()
    srv = start_server("sqlite", tmp_path_factory.mktemp("e2e-ui"), media_env(), tls=False)
    yield srv
    stop_server(srv)


@pytest.fixture(scope="module")
def api(media_server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MeetingsClient]:
    app_id, key = create_application(media_server, tmp_path_factory.mktemp("ui-keys"))
    with MeetingsClient(media_server.base_url, app_id, key) as c:
        yield c


@pytest.fixture(scope="module")
async def playwright() -> AsyncIterator[Playwright]:
    async with async_playwright() as pw:
        yield pw


@pytest.fixture(scope="module")
async def chromium(playwright: Playwright) -> AsyncIterator[Browser]:
    """One browser for the module (tests/browser.py flags); each test makes its own contexts."""
    browser = await b.launch(playwright)
    yield browser
    await browser.close()


def urls(api: MeetingsClient, **options: Any) -> tuple[str, str, dict[str, Any]]:
    room = api.create_room({"display_name": "UI", **options})
    return room["_links"]["host_url"]["href"], room["_links"]["guest_url"]["href"], room


# ------------------------------------------------------------------ 1. the control bar

CONTROLS_FIT_JS = """() => {
  const root = document.documentElement, vw = root.clientWidth, vh = root.clientHeight;
  const bad = [];
  if (root.scrollWidth > vw) bad.push(`the page scrolls sideways: ${root.scrollWidth} > ${vw}`);
  for (const el of document.querySelectorAll('#controls button')) {
    if (!el.checkVisibility({visibilityProperty: true})) continue;
    const r = el.getBoundingClientRect();
    if (r.left < -0.5 || r.top < -0.5 || r.right > vw + 0.5 || r.bottom > vh + 0.5)
      bad.push(`${el.id || el.getAttribute('aria-label')} at ${Math.round(r.left)}..${Math.round(r.right)} of ${vw}`);
  }
  return bad.length ? bad : null;
}"""


async def controls_fit(page: Page, width: int) -> None:
    """Waits (bounded) until no visible control is outside the viewport and nothing scrolls sideways."""
    try:
        await page.wait_for_function(f"() => !({CONTROLS_FIT_JS})()", timeout=3000)
    except PlaywrightTimeout:
        raise AssertionError(f"{width}px: {await page.evaluate(CONTROLS_FIT_JS)}") from None


async def reach_end(page: Page, names: dict[str, str], width: int) -> None:
    """End for all is in the bar, inside the viewport, or a menu item of More."""
    bar = page.locator("#controls")
    end = bar.get_by_role("button", name=names["end"], exact=True)
    if await end.count() and await end.first.is_visible():
        await expect(end.first).to_be_in_viewport(ratio=1.0)
        return
    more = page.get_by_role("button", name=re.compile(names["more"], re.I))
    assert await more.count() == 1, f"{width}px: {names['end']!r} is not in the bar and there is no More button"
    await more.click()
    await expect(more).to_have_attribute("aria-expanded", "true")
    item = page.get_by_role("menuitem", name=names["end"], exact=True)
    await expect(item).to_be_visible()
    await expect(item).to_be_in_viewport(ratio=1.0)
    await page.keyboard.press("Escape")
    if await more.get_attribute("aria-expanded") == "true":
        await more.click()
    await expect(more).to_have_attribute("aria-expanded", "false")


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
                await controls_fit(page, width)
                if width >= 500:  # a host can end the meeting wherever the bar has room for it today
                    await reach_end(page, names, width)
            except AssertionError as err:
                problems.append(str(err).splitlines()[0])
        assert not problems, "\n".join(problems)
    finally:
        await ctx.close()


# ------------------------------------------------------------------ 2. the participant list

def state_icon(row: Any, name: str) -> Any:
    return (row.get_by_role("img", name=name, exact=True)
            .or_(row.get_by_label(name, exact=True)).or_(row.get_by_title(name, exact=True)).first)


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
        await expect(state_icon(row, "Microphone off")).to_be_visible()
        await expect(state_icon(row, "Camera off")).to_be_visible()
        mine = host.locator(f'#participant-list [data-participant-id="{await ui.participant_id(host)}"]')
        await expect(mine).to_have_attribute("data-mic", "on")
        await expect(mine.get_by_label("Microphone off", exact=True)).to_have_count(0)
    finally:
        await guest_ctx.close()
        await host_ctx.close()
