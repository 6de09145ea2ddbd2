"""Watch together in Chromium (issue 13): the host shares a video file uploaded to meetkit; every page
plays it on the server's timeline. The drift between two pages is measured while playing, after a
seek and after a pause, for a late joiner too, and stays within 0.5 s; control is handed over; the
video ends when its sharer leaves."""

from __future__ import annotations

import asyncio
import functools
import http.server
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page

from meetkit.client import MeetingsClient

from .. import browser as b
from .. import ui_support as ui
from ..support import Server, make_tls_cert

MAX_DRIFT = 0.5  # seconds, the bound
# (local clock ms, the player's position s, playing) sampled in one go on a page.
SAMPLE = ("() => { const v = document.querySelector('#watch-video');"
          " return [performance.timeOrigin + performance.now(), v ? v.currentTime : -1, v ? !v.paused : false]; }")


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 40 s WebM (VP8 and Opus) made here: a moving test picture and a tone."""
    out = tmp_path_factory.mktemp("watch") / "film.webm"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25",
                    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "40", "-c:v", "libvpx",
                    "-b:v", "200k", "-c:a", "libopus", "-y", str(out)], check=True, timeout=120)
    return out


async def _positions(pages: list[Page]) -> list[float]:
    """Each page's position, carried to one instant (the same machine: one clock for all pages)."""
    samples = await asyncio.gather(*(p.evaluate(SAMPLE) for p in pages))
    now = max(s[0] for s in samples)
    return [pos + ((now - at) / 1000 if playing else 0) for at, pos, playing in samples]


async def _drift(pages: list[Page], seconds: float = 2.0) -> float:
    """The largest gap between the pages' positions over ``seconds`` (sampled every 0.2 s)."""
    worst = 0.0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        positions = await _positions(pages)
        worst = max(worst, max(positions) - min(positions))
        await asyncio.sleep(0.2)
    return worst


async def _settled(pages: list[Page], check: str, limit: float = 10.0) -> None:
    for p in pages:
        await p.wait_for_function(check, timeout=limit * 1000)


@pytest.fixture(scope="module")
def video_site(video: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An HTTPS file server on 127.0.0.1 serving the test video: a video link of another site."""
    cert, key = make_tls_cert(tmp_path_factory.mktemp("site-tls"))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(video.parent))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(str(cert), str(key))
    httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


async def _context(chromium: Browser, origin: str, width: int, height: int) -> BrowserContext:
    # (The video site's certificate is self-signed.)
    ctx = await chromium.new_context(viewport={"width": width, "height": height}, ignore_https_errors=True)
    await ctx.grant_permissions(["camera", "microphone"], origin=origin)
    return ctx


async def test_a_shared_video_plays_in_step(media_server: Server, api: MeetingsClient, chromium: Browser,
                                            video: Path, video_site: str) -> None:
    room = api.create_room({"display_name": "Film night", "join_approval_level": "none"})
    contexts: list[BrowserContext] = []
    try:
        for width, height in ((1280, 800), (1280, 800), (375, 740)):
            contexts.append(await _context(chromium, media_server.base_url, width, height))
        host = await ui.enter(contexts[0], room["_links"]["host_url"]["href"], "Hana", mic=False, camera=False)
        guest = await ui.enter(contexts[1], room["_links"]["guest_url"]["href"], "Gus", mic=False, camera=False)
        assert not await guest.is_visible("#btn-watch")  # sharing is the host's

        # The host shares a file from this computer: uploaded to meetkit, then played by everyone.
        await host.click("#btn-watch")
        await host.set_input_files("#watch-file", str(video))
        await host.click("#watch-start")
        ready = "() => { const v = document.querySelector('#watch-video'); return v && v.readyState >= 2; }"
        await _settled([host, guest], ready, 20)
        assert await host.is_visible("#watch-controls") and not await guest.is_visible("#watch-controls")

        await host.click("#watch-play")
        await _settled([host, guest], "() => !document.querySelector('#watch-video').paused")
        await asyncio.sleep(1.0)
        playing = await _drift([host, guest])
        print(f"watch together: drift while playing {playing * 1000:.0f} ms")
        assert playing <= MAX_DRIFT

        # A seek by the host: the guest follows to the new place.
        await host.evaluate("() => { const s = document.querySelector('#watch-seek'); s.value = '20';"
                            " s.dispatchEvent(new Event('change')); }")
        await _settled([host, guest], "() => document.querySelector('#watch-video').currentTime > 19.5")
        await asyncio.sleep(1.0)
        seeked = await _drift([host, guest])
        print(f"watch together: drift after a seek {seeked * 1000:.0f} ms")
        assert seeked <= MAX_DRIFT

        # A late joiner, on a phone, starts at the right place.
        late = await ui.enter(contexts[2], room["_links"]["guest_url"]["href"], "Ida", mic=False, camera=False)
        await _settled([late], ready, 20)
        await _settled([late], "() => !document.querySelector('#watch-video').paused")
        await asyncio.sleep(1.5)
        joined = await _drift([host, guest, late])
        print(f"watch together: drift with a late joiner {joined * 1000:.0f} ms")
        assert joined <= MAX_DRIFT
        await b.screenshot(host, "watch-together-1280")
        await b.screenshot(late, "watch-together-375")
        await guest.set_viewport_size({"width": 550, "height": 760})
        await asyncio.sleep(0.3)
        await b.screenshot(guest, "watch-together-550")

        # Pause: everyone stops at the same frame.
        await host.click("#watch-play")
        await _settled([host, guest, late], "() => document.querySelector('#watch-video').paused")
        await asyncio.sleep(0.6)
        paused = await _positions([host, guest, late])
        print(f"watch together: paused at {paused}")
        assert max(paused) - min(paused) <= MAX_DRIFT

        # Control handed to the guest: their page gets the controls and their play reaches the host.
        guest_id = await ui.participant_id(guest)
        await host.select_option("#watch-hand-to", guest_id)
        await host.click("#watch-hand-go")
        await guest.wait_for_selector("#watch-controls", state="visible", timeout=5000)
        assert not await host.is_visible("#watch-controls")
        await guest.click("#watch-play")
        await _settled([host, late], "() => !document.querySelector('#watch-video').paused")

        # Stopped, then shared again by link: a video file on another HTTPS server (here one of the
        # test's own, on loopback, with a self-signed certificate the pages' browser accepts).
        link = f"{video_site}/film.webm"
        await host.click("#watch-stop")
        await _settled([host, guest, late], "() => document.querySelector('#watch').hidden")
        await host.click("#btn-watch")
        await host.fill("#watch-url", link)
        await host.click("#watch-start")
        await _settled([guest, late], ready, 20)
        assert await guest.evaluate("() => window.__meetkit.watch.timeline.source.kind") == "url"
        assert await guest.evaluate("() => document.querySelector('#watch-video').src") == link

        # The sharer leaves: the video ends for everyone.
        await host.close()
        await _settled([guest, late], "() => document.querySelector('#watch').hidden")
    finally:
        for ctx in contexts:
            await ctx.close()
