"""A receiver's downlink with a full page of tiles: what simulcast and the tile-sized layers save.

    .venv/bin/python bench/downlink.py [--publishers 12] [--seconds 10] [--width 1280] [--height 800]

A real `meetkit serve` (SQLite) with its own Janus (ICE on 127.0.0.5, scripts/media-net.sh, root). The
host and `--publishers - 1` guests join in Chromium with the fake camera (1280x720, simulcast h/m/l as
the meeting publishes it) and microphone, each in a 320x240 page so their own grids stay small; then a
receiver joins with camera and microphone off in a `--width`x`--height` page (1280x800: a page of 12
tiles, its own included). Once every remote tile on its page decodes, its one subscriber connection's
inbound bytes are read over `--seconds`: printed are the total downlink (video and audio apart), the
frame width each tile receives (the layer meetkit chose for it), and the same after "Low bandwidth".
Aim (issue 11): ≤ 2.5 Mbps with 12 tiles (before: 12 x ~450 kbps at 640x480 ≈ 5.4 Mbps).

Two cores encode 3 layers for 12 cameras here: Chromium may lower the top layers when its encoder is
short of CPU; the small tiles get the lowest layer, which it keeps. Traffic stays on 127.0.0.0/8 and
every wait is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.join import make_room, server
from tests.support import media_env, media_net

AIM_KBPS = 2500

# Per remote tile: received video frame width, and the subscriber's inbound bytes by kind.
SAMPLE_JS = """async () => {
  const m = window.__meetkit;
  const pc = m && m.subscriber;
  const out = {bytes: {audio: 0, video: 0}, widths: {}, tiles: 0};
  out.tiles = document.querySelectorAll('#grid video[data-feed]').length;
  if (!pc) return out;
  const stats = await pc.getStats();
  stats.forEach(s => {
    if (s.type !== 'inbound-rtp') return;
    out.bytes[s.kind] = (out.bytes[s.kind] || 0) + (s.bytesReceived || 0);
    const stream = m.streams.get(s.mid);
    if (s.kind === 'video' && stream && stream.feed != null && s.frameWidth) out.widths[stream.feed] = s.frameWidth;
  });
  return out;
}"""


async def sample(page: Any, seconds: float) -> dict[str, Any]:
    first = await page.evaluate(SAMPLE_JS)
    t0 = time.monotonic()
    await asyncio.sleep(seconds)
    last = await page.evaluate(SAMPLE_JS)
    dt = time.monotonic() - t0
    kbps = {k: (last["bytes"][k] - first["bytes"][k]) * 8 / dt / 1000 for k in ("audio", "video")}
    return {"kbps": kbps, "widths": last["widths"], "tiles": last["tiles"]}


async def run(srv: Any, room: dict[str, Any], publishers: int, seconds: float, width: int, height: int) -> None:
    from playwright.async_api import async_playwright
    from tests import browser as b

    host_url, guest_url = room["_links"]["host_url"]["href"], room["_links"]["guest_url"]["href"]
    async with async_playwright() as pw:
        browser = await asyncio.wait_for(b.launch(pw), 30)
        try:
            for i in range(publishers):
                ctx = await b.new_context(browser, srv.base_url, 320, 240)
                page = await ctx.new_page()
                await asyncio.wait_for(b.join(page, host_url if i == 0 else guest_url, f"Cam {i + 1}"), 90)
                await b.wait_state(page, "joined", 60)
                print(f"  camera {i + 1} joined", file=sys.stderr)
            ctx = await b.new_context(browser, srv.base_url, width, height)
            rx = await ctx.new_page()
            await rx.goto(guest_url)
            await rx.fill("#name", "Receiver")
            for toggle in ("#prejoin-mic", "#prejoin-camera"):
                if await rx.locator(toggle).count():
                    await rx.click(toggle)
            await rx.click("#join")
            await b.wait_state(rx, "joined", 30)
            deadline = time.monotonic() + 90
            got: dict[str, Any] = {}
            while time.monotonic() < deadline:
                got = await rx.evaluate(SAMPLE_JS)
                if got["tiles"] and len(got["widths"]) >= min(got["tiles"], publishers):
                    break
                await asyncio.sleep(0.5)
            print(f"downlink: {publishers} cameras, receiver page {width}x{height}, "
                  f"{got.get('tiles', 0)} remote video tiles on its page")
            await asyncio.sleep(3)  # layers settle (simulcast switches at a keyframe)
            full = await sample(rx, seconds)
            report("tile-sized layers", full)
            await rx.click("#btn-more")
            await rx.click("#btn-low-bandwidth")  # More → Low bandwidth, as a user does
            await asyncio.sleep(3)
            report("low bandwidth", await sample(rx, seconds))
        finally:
            await browser.close()


def report(label: str, s: dict[str, Any]) -> None:
    total = s["kbps"]["audio"] + s["kbps"]["video"]
    widths = sorted(s["widths"].values())
    verdict = "ok" if total <= AIM_KBPS else "over the aim"
    print(f"  {label}: {total:.0f} kbps down (video {s['kbps']['video']:.0f}, audio {s['kbps']['audio']:.0f}) "
          f"for {len(widths)} videos; frame widths {widths}; aim <= {AIM_KBPS} kbps: {verdict}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--publishers", type=int, default=12)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=800)
    args = ap.parse_args()
    media_net()
    with tempfile.TemporaryDirectory(prefix="meetkit-downlink-") as tmp, server(Path(tmp), media_env()) as srv:
        room = make_room(srv, Path(tmp))  # (its own event loop: before ours)
        asyncio.run(run(srv, room, args.publishers, args.seconds, args.width, args.height))


if __name__ == "__main__":
    main()
