"""Helpers of tests/e2e/test_e2e_ui.py: what a person sees and hears, read from Debian's Chromium.

Colours are composited and compared by the WCAG 2 formula here in Python; accessible names come from
Playwright's ARIA snapshot; axe-core is installed from tests/ui/package-lock.json (scripts/services.sh)."""

from __future__ import annotations

import math
import re
import struct
import subprocess
import wave
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, BrowserContext, Locator, Page, expect
from playwright.async_api import TimeoutError as PlaywrightTimeout

from . import browser as b

UI_DIR = Path(__file__).parent / "ui"
AXE_JS = UI_DIR / "node_modules" / "axe-core" / "axe.min.js"


def ensure_axe() -> Path:
    if not AXE_JS.exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=UI_DIR, check=True,
                       timeout=300)
    return AXE_JS


def speech_wav(path: Path, rate: int = 48000) -> Path:
    """Someone who keeps talking: voiced syllables (a buzz of harmonics, 0.18-0.3 s, short pauses) at
    about -20 dBFS. A steady tone would not do: the browser's noise suppression fades it out."""
    frames = bytearray()
    t = 0
    for syllable in range(36):  # about 12 s, which Chromium loops
        f0 = (140, 200, 170, 260, 230, 185)[syllable % 6]
        n = int(rate * (0.18 + 0.04 * (syllable % 4)))
        for i in range(n):
            envelope = math.sin(math.pi * i / n)
            x = sum(math.sin(2 * math.pi * f0 * k * (t + i) / rate) / k for k in range(1, 6)) / 2.3
            frames += struct.pack("<h", int(0.25 * 32767 * envelope * x))
        t += n
        frames += bytes(2 * int(rate * (0.05 + 0.02 * (syllable % 3))))
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(frames))
    return path


# The loudest RMS level of the microphone over a second, with the browser's usual audio processing.
LOUDEST_JS = """async () => {
  const stream = await navigator.mediaDevices.getUserMedia({audio: true});
  const ctx = new AudioContext();
  await ctx.resume();
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 1024;
  ctx.createMediaStreamSource(stream).connect(analyser);
  const buf = new Float32Array(1024);
  let loudest = 0;
  for (let i = 0; i < 10; i++) {
    await new Promise(r => setTimeout(r, 100));
    analyser.getFloatTimeDomainData(buf);
    loudest = Math.max(loudest, Math.sqrt(buf.reduce((sum, v) => sum + v * v, 0) / buf.length));
  }
  stream.getTracks().forEach(t => t.stop());
  await ctx.close();
  return loudest;
}"""


def blocking_script(kind: str) -> str:
    """An init script: getUserMedia refuses `kind` ("audio" or "video") as a browser whose permission
    is blocked does (NotAllowedError), and hands everything else to the real function."""
    return f"""(() => {{
  const md = navigator.mediaDevices;
  if (!md || !md.getUserMedia) return;
  const real = md.getUserMedia.bind(md);
  md.getUserMedia = (c) => (c && c.{kind})
    ? Promise.reject(new DOMException("Permission denied", "NotAllowedError"))
    : real(c);
}})();"""


async def context(browser: Browser, origin: str, permissions: list[str] | None = None,
                  width: int = 1280, height: int = 800) -> BrowserContext:
    ctx = await browser.new_context(viewport={"width": width, "height": height})
    await ctx.grant_permissions(["camera", "microphone"] if permissions is None else permissions, origin=origin)
    return ctx


async def prejoin(ctx: BrowserContext, url: str) -> Page:
    """The page at its pre-join screen with the devices asked for (the device lists are filled)."""
    page = await ctx.new_page()
    await page.goto(url)
    await page.wait_for_selector("#join", timeout=15000)
    await page.wait_for_function("() => document.querySelector('#mic-select').options.length > 0", timeout=15000)
    return page


async def enter(ctx: BrowserContext, url: str, name: str, *, mic: bool = True, camera: bool = True,
                state: str = "joined") -> Page:
    """Opens the URL, sets the toggles from the pre-join screen, joins and waits for `state`."""
    page = await prejoin(ctx, url)
    for on, sel in ((mic, "#prejoin-mic"), (camera, "#prejoin-camera")):
        if not on:
            await page.click(sel)
    await page.fill("#name", name)
    await page.click("#join")
    await b.wait_state(page, state)
    return page


async def participant_id(page: Page) -> str:
    return str(await page.evaluate("() => window.__meetkit.participantId"))


async def accessible_name(loc: Locator) -> str:
    """The name Chromium's accessibility tree gives the element (from its ARIA snapshot)."""
    snap = await loc.aria_snapshot()
    m = re.match(r'-\s*\w+\s+"((?:[^"\\]|\\.)*)"', snap.strip())
    return m.group(1).replace('\\"', '"') if m else ""


# The text colour of the visible label of an element and the colour behind it (ancestors' backgrounds
# composited over white), each [r, g, b, a] with r,g,b in 0..255.
COLOURS_JS = """el => {
  const label = [...el.querySelectorAll('.label')].find(l => l.checkVisibility()) || el;
  const parse = s => (s.match(/[\\d.]+/g) || []).map(Number);
  const fg = parse(getComputedStyle(label).color);
  const layers = [];
  for (let n = label; n; n = n.parentElement) {
    const c = parse(getComputedStyle(n).backgroundColor);
    const a = c.length > 3 ? c[3] : 1;
    if (a > 0) layers.push([c[0], c[1], c[2], a]);
    if (a >= 1) break;
  }
  let bg = [255, 255, 255];
  for (const [r, g, b, a] of layers.reverse()) bg = [r, g, b].map((c, i) => c * a + bg[i] * (1 - a));
  return {fg: fg.length > 3 ? fg : [...fg, 1], bg: [...bg, 1], text: label.textContent.trim()};
}"""


def _luminance(rgb: list[float]) -> float:
    def channel(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.03928 else float(((c + 0.055) / 1.055) ** 2.4)
    r, g, bl = (channel(x) for x in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * bl


def contrast(fg: list[float], bg: list[float]) -> float:
    """The WCAG 2 contrast ratio of a text colour (its alpha blended onto bg) against bg."""
    a = fg[3] if len(fg) > 3 else 1.0
    mixed = [fg[i] * a + bg[i] * (1 - a) for i in range(3)]
    hi, lo = sorted((_luminance(mixed), _luminance(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


async def label_contrast(loc: Locator) -> tuple[float, dict[str, Any]]:
    colours: dict[str, Any] = await loc.evaluate(COLOURS_JS)
    return contrast(colours["fg"], colours["bg"]), colours


# Visible text (an element's rendered text, or a visible input's value) matching a regular expression,
# leaving out the element `exclude` names and everything inside or around it.
SHOWN_JS = """([source, flags, exclude]) => {
  const re = new RegExp(source, flags);
  const skip = exclude ? [...document.querySelectorAll(exclude)] : [];
  for (const el of document.body.querySelectorAll('*')) {
    if (skip.some(s => s === el || s.contains(el) || el.contains(s))) continue;
    if (!el.checkVisibility || !el.checkVisibility({visibilityProperty: true})) continue;
    const text = (el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement) ? el.value : el.innerText;
    if (text && text.length < 600 && re.test(text)) return text;
  }
  return null;
}"""


async def shown(page: Page, pattern: str, exclude: str | None = None, timeout: float = 10.0) -> str:
    """Waits (bounded) until the page shows text matching `pattern` (case-insensitive) outside `exclude`."""
    try:
        handle = await page.wait_for_function(SHOWN_JS, arg=[pattern, "is", exclude], timeout=timeout * 1000)
    except PlaywrightTimeout:
        raise AssertionError(f"nothing visible matches /{pattern}/i within {timeout}s") from None
    return str(await handle.json_value())


async def axe_violations(page: Page, impacts: tuple[str, ...] = ("serious", "critical")) -> list[dict[str, Any]]:
    """axe-core's violations of the page as it is now, of the given impacts."""
    # Evaluated through the driver, not added as an inline <script>: the meeting page's CSP allows
    # scripts from meetkit only (docs/embed.md), and the test must not switch the policy off.
    if not await page.evaluate("() => typeof window.axe === 'object'"):
        await page.evaluate(ensure_axe().read_text(encoding="utf-8"))
    found: list[dict[str, Any]] = await page.evaluate("""async () => {
      const r = await axe.run(document, {resultTypes: ['violations']});
      return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
        nodes: v.nodes.slice(0, 6).map(n => ({target: n.target.join(' '), summary: n.failureSummary}))}));
    }""")
    return [v for v in found if v["impact"] in impacts]


# ------------------------------------------------------------------ what the tests look at

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
    if await more.get_attribute("aria-expanded") != "true":
        await more.click()
    await expect(more).to_have_attribute("aria-expanded", "true")
    item = page.get_by_role("menuitem", name=names["end"], exact=True)
    await expect(item).to_be_visible()
    await expect(item).to_be_in_viewport(ratio=1.0)
    await page.keyboard.press("Escape")
    if await more.get_attribute("aria-expanded") == "true":
        await more.click()
    await expect(more).to_have_attribute("aria-expanded", "false")


def state_icon(row: Locator, name: str) -> Locator:
    """An icon of a participant row, by the name a screen reader gives it."""
    return (row.get_by_role("img", name=name, exact=True)
            .or_(row.get_by_label(name, exact=True)).or_(row.get_by_title(name, exact=True)).first)


async def assert_mic_toggle(loc: Locator, live: bool) -> None:
    """Live: "Microphone" pressed, or "Mute microphone" as a plain button; muted: "Microphone" not
    pressed, or "Unmute microphone" as a plain button. Never "Mute" announced as pressed."""
    pressed = await loc.get_attribute("aria-pressed")
    name = await accessible_name(loc)
    if live:
        ok = (pressed == "true" and name == "Microphone") or (pressed is None and name == "Mute microphone")
    else:
        ok = (pressed == "false" and name == "Microphone") or (pressed is None and name == "Unmute microphone")
    assert ok, f"mic {'live' if live else 'muted'} is announced as {name!r}, aria-pressed={pressed}"


def axe_report(screen: str, violations: list[dict[str, Any]]) -> str:
    lines = [f"axe-core on the {screen} screen:"]
    for v in violations:
        lines.append(f"  [{v['impact']}] {v['id']}: {v['help']}")
        lines += [f"      {n['target']}: {(n['summary'] or '').splitlines()[-1].strip()}" for n in v["nodes"]]
    return "\n".join(lines)


ROUND_JS = """el => {
  const s = getComputedStyle(el), r = el.getBoundingClientRect();
  const corner = v => v.endsWith('%') ? parseFloat(v) / 100 * Math.min(r.width, r.height) : parseFloat(v);
  const radii = [s.borderTopLeftRadius, s.borderTopRightRadius, s.borderBottomLeftRadius, s.borderBottomRightRadius];
  return {radii, smallest: Math.min(...radii.map(corner)), width: r.width, height: r.height};
}"""


async def open_invite(page: Page) -> None:
    """The host's Invite button: in the bar, or a menu item of More."""
    bar = page.locator("#controls").get_by_role("button", name=re.compile(r"^Invite", re.I))
    if await bar.count() and await bar.first.is_visible():
        await bar.first.click()
        return
    more = page.get_by_role("button", name=re.compile(r"^More\b", re.I))
    assert await more.count() == 1, "no Invite button in the control bar and no More menu"
    await more.click()
    await page.get_by_role("menuitem", name=re.compile(r"^Invite", re.I)).click()
