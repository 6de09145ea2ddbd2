"""Debian's Chromium driven by Playwright, kept on this machine: fake camera and microphone, loopback
peer connections (Janus answers on 127.0.0.5, see docs/media.md), no lookups of other hosts."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, BrowserContext, Page, Playwright

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"

FLAGS = [
    "--no-sandbox",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-gpu",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--allow-loopback-in-peer-connection",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    "--autoplay-policy=no-user-gesture-required",
]


def chromium_available() -> bool:
    return shutil.which(CHROMIUM) is not None


async def launch(pw: Playwright) -> Browser:
    return await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)


async def new_context(browser: Browser, origin: str, width: int = 1280, height: int = 800) -> BrowserContext:
    ctx = await browser.new_context(viewport={"width": width, "height": height})
    await ctx.grant_permissions(["camera", "microphone"], origin=origin)
    return ctx


async def join(page: Page, url: str, name: str) -> None:
    await page.goto(url)
    await page.fill("#name", name)
    await page.click("#join")


async def state(page: Page) -> str:
    return str(await page.evaluate("() => window.__meetkit && window.__meetkit.state"))


async def wait_state(page: Page, wanted: str, timeout: float = 15.0) -> None:
    await page.wait_for_function(f"() => window.__meetkit && window.__meetkit.state === {wanted!r}",
                                 timeout=timeout * 1000)


# What the page's one subscriber connection has decoded, per feed (its m-lines mapped to feeds through
# the page's streams, docs/ui.md "window.__meetkit"): {feed: {video_frames, audio_samples, bytes}}.
INBOUND_JS = """async () => {
  const out = {};
  const m = window.__meetkit;
  const pc = m && m.subscriber;
  if (!pc) return out;
  const midOfTrack = {};
  for (const tr of pc.getTransceivers()) if (tr.mid !== null) midOfTrack[tr.receiver.track.id] = tr.mid;
  const stats = await pc.getStats();
  stats.forEach(s => {
    if (s.type !== 'inbound-rtp') return;
    const stream = m.streams.get(s.mid ?? midOfTrack[s.trackIdentifier]);
    if (!stream || stream.feed === null || stream.feed === undefined) return;
    const r = out[String(stream.feed)] ||= {video_frames: 0, audio_samples: 0, audio_packets: 0, bytes: 0,
                                             state: pc.connectionState};
    r.bytes += s.bytesReceived || 0;
    if (s.kind === 'video') r.video_frames += s.framesDecoded || 0;
    if (s.kind === 'audio') {
      r.audio_samples += s.totalSamplesReceived || 0;
      r.audio_packets += s.packetsReceived || 0;
    }
  });
  return out;
}"""


# The address pairs ICE chose, for every peer connection of the page: [[local, remote], ...].
SELECTED_PAIRS_JS = """async () => {
  const m = window.__meetkit;
  const pcs = [m.publisher, m.screenPublisher, m.subscriber].filter(Boolean);
  const out = [];
  for (const pc of pcs) {
    const stats = await pc.getStats();
    stats.forEach(s => {
      if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') {
        const l = stats.get(s.localCandidateId), r = stats.get(s.remoteCandidateId);
        out.push([l.address || l.ip, r.address || r.ip]);
      }
    });
  }
  return out;
}"""


async def inbound(page: Page) -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = await page.evaluate(INBOUND_JS)
    return result


async def wait_decoding(page: Page, timeout: float = 20.0) -> dict[str, dict[str, Any]]:
    """Until some subscription decodes video frames and receives audio."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last: dict[str, dict[str, Any]] = {}
    while loop.time() < deadline:
        last = await inbound(page)
        if any(r["video_frames"] > 0 and r["audio_packets"] > 0 for r in last.values()):
            return last
        await asyncio.sleep(0.25)
    raise AssertionError(f"nothing decoded within {timeout}s: {last}")


async def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path))
    return path
