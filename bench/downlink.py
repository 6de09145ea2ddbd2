"""A receiver's downlink with a full page of tiles: what simulcast and the tile-sized layers save.

    .venv/bin/python bench/downlink.py [--publishers 12] [--seconds 10] [--width 1280] [--height 800]
                                       [--fps 5]

A real `meetkit serve` (SQLite) with its own Janus (ICE on 127.0.0.5, scripts/media-net.sh, root). The
host and `--publishers - 1` guests join in one Chromium whose camera plays a clip made here with
ffmpeg (1280x720, testsrc2 under temporal noise, `--fps` frames a second) and whose microphone is
Chromium's fake one; they publish as the meeting does (simulcast h/m/l), each in a 320x240 page so
their own grids stay small. Noise is the hardest content to compress: every layer's encoder runs at
its bitrate cap, so the figures are a worst case for what a real camera sends. The low frame rate
is what lets two cores encode 12 x 3 layers at all (at 20 fps the joins starve); the caps, not the
frame rate, decide the bitrate of noise. Then a receiver joins with camera and microphone off in a
`--width`x`--height` page of another Chromium (1280x800: a page of 12 tiles, its own included). Once
every remote tile on its page decodes, its one subscriber connection's inbound bytes are read over
`--seconds`: printed are the total downlink (video and audio apart), the audio streams it gets, the
frame width each tile receives (the layer meetkit chose for it), and the same after "Low bandwidth".
Aim (issue 11): <= 2.5 Mbps with 12 tiles (before: 12 x ~450 kbps at 640x480 ~ 5.4 Mbps).

Traffic stays on 127.0.0.0/8 and every wait is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
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
  const out = {bytes: {audio: 0, video: 0}, widths: {}, tiles: 0, audio_streams: 0};
  out.tiles = document.querySelectorAll('#grid video[data-feed]').length;
  if (!pc) return out;
  const stats = await pc.getStats();
  stats.forEach(s => {
    if (s.type !== 'inbound-rtp') return;
    out.bytes[s.kind] = (out.bytes[s.kind] || 0) + (s.bytesReceived || 0);
    if (s.kind === 'audio' && s.packetsReceived > 0) out.audio_streams++;
    const stream = m.streams.get(s.mid);
    if (s.kind === 'video' && stream && stream.feed != null && s.frameWidth) out.widths[stream.feed] = s.frameWidth;
  });
  return out;
}"""


# A publisher's camera: bytes sent and frame width per simulcast layer (rid).
SENT_JS = """async () => {
  const out = {};
  const pc = window.__meetkit && window.__meetkit.publisher;
  if (!pc) return out;
  (await pc.getStats()).forEach(s => {
    if (s.type === 'outbound-rtp' && s.kind === 'video') out[s.rid || '-'] = [s.bytesSent || 0, s.frameWidth || 0];
  });
  return out;
}"""


async def sent(page: Any, seconds: float) -> str:
    """What one camera sends per layer over ``seconds``: the encoders' caps are 1200/450/150 kbps."""
    first = await page.evaluate(SENT_JS)
    await asyncio.sleep(seconds)
    last = await page.evaluate(SENT_JS)
    kbps = {rid: (last[rid][0] - first.get(rid, [0])[0]) * 8 / seconds / 1000 for rid in last}
    return ", ".join(f"{rid} {kbps[rid]:.0f} kbps at {last[rid][1]} wide" for rid in sorted(last))


async def sample(page: Any, seconds: float) -> dict[str, Any]:
    first = await page.evaluate(SAMPLE_JS)
    t0 = time.monotonic()
    await asyncio.sleep(seconds)
    last = await page.evaluate(SAMPLE_JS)
    dt = time.monotonic() - t0
    kbps = {k: (last["bytes"][k] - first["bytes"][k]) * 8 / dt / 1000 for k in ("audio", "video")}
    return {"kbps": kbps, "widths": last["widths"], "tiles": last["tiles"], "audio_streams": last["audio_streams"]}


def make_clip(folder: Path, fps: int) -> Path:
    """Four seconds of 1280x720 noise over a test pattern, as Chromium's fake camera plays it (y4m)."""
    clip = folder / "camera.y4m"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size=1280x720:rate={fps}",
                    "-vf", "noise=alls=40:allf=t", "-t", "4", "-pix_fmt", "yuv420p", str(clip)],
                   check=True, timeout=120)
    return clip


async def run(srv: Any, room: dict[str, Any], publishers: int, seconds: float, width: int, height: int,
              clip: Path) -> None:
    from playwright.async_api import async_playwright
    from tests import browser as b

    host_url, guest_url = room["_links"]["host_url"]["href"], room["_links"]["guest_url"]["href"]
    async with async_playwright() as pw:
        flags = [*b.FLAGS, f"--use-file-for-fake-video-capture={clip}"]
        cameras = await asyncio.wait_for(pw.chromium.launch(executable_path=b.CHROMIUM, headless=True, args=flags), 30)
        browser = await asyncio.wait_for(b.launch(pw), 30)
        first_camera: Any = None
        try:
            for i in range(publishers):
                ctx = await b.new_context(cameras, srv.base_url, 320, 240)
                page = await ctx.new_page()
                if i == 0:
                    first_camera = page  # the host: its layers are printed
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
            full, one = await asyncio.gather(sample(rx, seconds), sent(first_camera, seconds))
            print(f"  one camera sends: {one}")
            report("tile-sized layers", full)
            await rx.click("#btn-more")
            await rx.click("#btn-low-bandwidth")  # More → Low bandwidth, as a user does
            await asyncio.sleep(3)
            report("low bandwidth", await sample(rx, seconds))
        finally:
            await browser.close()
            await cameras.close()


def report(label: str, s: dict[str, Any]) -> None:
    total = s["kbps"]["audio"] + s["kbps"]["video"]
    widths = sorted(s["widths"].values())
    verdict = "ok" if total <= AIM_KBPS else "over the aim"
    print(f"  {label}: {total:.0f} kbps down (video {s['kbps']['video']:.0f}, audio {s['kbps']['audio']:.0f}) "
          f"for {len(widths)} videos and {s['audio_streams']} audio streams; frame widths {widths}; "
          f"aim <= {AIM_KBPS} kbps: {verdict}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--publishers", type=int, default=12)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=800)
    ap.add_argument("--fps", type=int, default=5, help="the cameras' frame rate")
    args = ap.parse_args()
    media_net()
    with tempfile.TemporaryDirectory(prefix="meetkit-downlink-") as tmp, server(Path(tmp), media_env()) as srv:
        room = make_room(srv, Path(tmp))  # (its own event loop: before ours)
        clip = make_clip(Path(tmp), args.fps)
        asyncio.run(run(srv, room, args.publishers, args.seconds, args.width, args.height, clip))


if __name__ == "__main__":
    main()
