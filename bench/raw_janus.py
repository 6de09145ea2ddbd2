"""The raw-Janus baseline of bench/join.py: the same Janus, joined directly by a minimal page.

What it measures: a fresh Chromium context opens a tiny page (served by the bench itself from
127.0.0.1, one plain ES module, no CDN, no framework) that speaks the Janus WebSocket API straight to
the meetkit server's own managed Janus (its API is on 127.0.0.1:MEETKIT_JANUS_WS_PORT): create a
session, attach the videoroom plugin, join as a subscriber to one feed, answer Janus's offer,
`start`, trickle its candidates. The time is from page.goto to the first decoded remote video frame,
taken exactly like the meetkit guest's (requestVideoFrameCallback, `loadeddata`, inbound-rtp
framesDecoded > 0 polled every 20 ms; the earliest wins).

The feed is a second raw page publishing Chromium's fake camera and microphone in a plain room the
bench creates on that Janus with its admin key (meetkit's rooms need a token and a private id, see
docs/media.md "Rooms and who may enter", which a raw page cannot have). The room is created with the
same codecs as meetkit's (opus, vp8).

What the baseline does NOT do, and the meetkit guest does: load the meetkit page and its modules, the
pre-join form (name typed, Join pressed), the WebSocket `hello` / `welcome` / admission, getUserMedia
and publishing its own camera and microphone, the presence join with token and private id, meetkit's
relay of SDP (and, until trickle lands in the meetkit client, waiting for complete ICE gathering).
That is the point: meetkit ÷ raw is what all of that costs on top of Janus and WebRTC themselves.
Like meetkit, the page keeps only 127.0.0.0/8 candidates (MEETKIT_MEDIA_CANDIDATE_NETWORKS), so all
traffic stays on loopback.
"""

from __future__ import annotations

import contextlib
import http.server
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

RAW_HTML = b"""<!doctype html><meta charset="utf-8"><title>raw janus</title>
<video id="v" autoplay playsinline muted></video><script type="module" src="/raw.js"></script>
"""

# The page's one module, next to this file (plain JavaScript, no dependencies).
RAW_JS = (Path(__file__).resolve().parent / "raw_janus.js").read_bytes()


@contextlib.contextmanager
def page_server() -> Iterator[str]:
    """Serves the raw page on 127.0.0.1 (a free port) from a thread; yields its origin."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # http.server's name
            path = self.path.split("?", 1)[0]
            body, kind = {"/raw.html": (RAW_HTML, "text/html"), "/raw.js": (RAW_JS, "text/javascript")}.get(
                path, (b"", ""))
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", kind or "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:  # quiet: the bench prints its own figures
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, name="raw-page", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


async def create_room(janus_url: str, admin_key: str) -> int:
    """A plain videoroom (no tokens, no private ids) on the meetkit server's Janus; returns its id."""
    from meetkit.media.janus import JanusClient

    room = 1_000_000_000 + secrets.randbelow(1_000_000_000)
    client = await JanusClient.connect(janus_url)
    try:
        session = await client.create_session()
        handle = await session.attach("janus.plugin.videoroom")
        await handle.request({"request": "create", "room": room, "admin_key": admin_key, "publishers": 4,
                              "audiocodec": "opus", "videocodec": "vp8", "description": "bench raw baseline"})
        await session.destroy()
    finally:
        await client.close()
    return room


def admin_key(data_dir: Path) -> str:
    """The managed Janus's videoroom admin_key (media/janus_config.py writes it there); never printed."""
    return (data_dir / "janus" / "admin_key").read_text().strip()


async def start_publisher(browser: Any, origin: str, janus_url: str, room: int) -> tuple[Any, int]:
    """A context publishing the fake camera into the raw room; returns (context, feed id)."""
    from urllib.parse import urlencode

    from tests import browser as b

    ctx = await b.new_context(browser, origin)
    page = await ctx.new_page()
    await page.goto(f"{origin}/raw.html?{urlencode({'role': 'pub', 'room': room, 'janus': janus_url})}")
    await page.wait_for_function("() => window.__raw && window.__raw.feed && "
                                 "window.__raw.pc.connectionState === 'connected'", timeout=20000)
    feed = int(await page.evaluate("() => window.__raw.feed"))
    return ctx, feed


FRAME_KEYS = ("frame.stats", "frame.rvfc", "frame.loadeddata")


async def one_join(browser: Any, origin: str, janus_url: str, room: int, feed: int) -> dict[str, float]:
    """A fresh context subscribes with the raw page: its marks in seconds after page.goto started."""
    import asyncio
    from urllib.parse import urlencode

    from tests import browser as b

    ctx = await asyncio.wait_for(b.new_context(browser, origin), 20)
    try:
        page = await ctx.new_page()
        t0 = time.time()
        query = urlencode({"role": "sub", "room": room, "feed": feed, "janus": janus_url})
        await page.goto(f"{origin}/raw.html?{query}", wait_until="domcontentloaded", timeout=15000)
        await page.wait_for_function(
            f"() => window.__bench && {' || '.join(repr(k) + ' in window.__bench.marks' for k in FRAME_KEYS)}",
            timeout=20000, polling=20)
        await asyncio.sleep(0.2)  # let the other frame signals land too
        marks: dict[str, float] = await page.evaluate("() => window.__bench.marks")
        await asyncio.wait_for(page.close(), 10)  # the socket closes: Janus destroys the session
    finally:
        await asyncio.wait_for(ctx.close(), 20)
    out = {k: v / 1000 - t0 for k, v in marks.items()}
    out["frame"] = min(out[k] for k in FRAME_KEYS if k in out)
    return out
