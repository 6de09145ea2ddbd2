"""The owner node SIGKILLed under two Chromium pages (issue 12, failover a): the shipped haproxy in front
of two nodes sharing a pool of two Janus (their sessions kept 30 s after a connection drops). The host's
page reaches the owner through the front, the guest's page the other node. When the owner dies, both
pages resume on the survivor by themselves, nobody is announced twice, and the guest's page decodes
the host's video in every second of the outage and after: the survivor claimed the Janus sessions."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
from pathlib import Path

import pytest
from playwright.async_api import Browser, WebSocket

from meetkit.actions.applications import do_set_embed_origins
from meetkit.client import MeetingsClient

from .. import browser as b
from ..support import create_application, server_container
from .test_chromium_nodes import Front, front  # noqa: F401  (the fixture, a deployment of this module's own)

pytestmark = [
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.skipif(not b.chromium_available(), reason="Debian chromium is installed by scripts/services.sh"),
    pytest.mark.skipif(os.geteuid() != 0, reason="the loopback media link needs root (CI runs as root)"),
]

# The frames the page's subscriber has decoded from one feed, and the participants it shows.
FRAMES_JS = """(feed) => {
  const m = window.__meetkit;
  return m && m.subscriber ? m.subscriber.getStats().then(stats => {
    let frames = 0;
    stats.forEach(s => {
      if (s.type !== 'inbound-rtp' || s.kind !== 'video') return;
      const stream = m.streams.get(s.mid);
      if (stream && String(stream.feed) === String(feed)) frames += s.framesDecoded || 0;
    });
    return frames;
  }) : 0;
}"""


def _type_of(payload: str | bytes) -> str:
    try:
        return str(json.loads(payload).get("type"))
    except (ValueError, AttributeError):
        return "?"


async def test_the_owner_killed_the_guest_page_keeps_decoding(front: Front,  # noqa: F811
                                                              chromium: Browser, tmp_path: Path) -> None:
    a = front.deployment.nodes[0]
    app_id, key = await asyncio.to_thread(create_application, a, tmp_path)
    async with server_container(a) as c:
        await do_set_embed_origins(c, app_id, [n.base_url for n in front.deployment.nodes])
    with MeetingsClient(front.base, app_id, key) as api:
        room = await asyncio.to_thread(api.create_room, {"display_name": "failover", "join_approval_level": "none"})
    path = lambda link: re.sub(r"^https?://[^/]+", "", room["_links"][link]["href"])  # noqa: E731
    host_ctx = await b.new_context(chromium, front.base)
    host = await host_ctx.new_page()
    await b.join(host, front.base + path("host_url"), "Hana Host")
    await b.wait_state(host, "joined", timeout=30)
    owner = await asyncio.to_thread(front.owner)
    other = next(n for n in front.deployment.nodes if n is not owner)
    guest_ctx = await b.new_context(chromium, other.base_url)
    guest = await guest_ctx.new_page()
    await b.join(guest, other.base_url + path("guest_url"), "Gus Guest")
    await b.wait_state(guest, "joined", timeout=30)
    heard: dict[str, list[str]] = {"host": [], "guest": []}  # what each page is told (its sockets' frames)

    def frames(name: str, ws: WebSocket) -> None:
        ws.on("framereceived", lambda payload: heard[name].append(_type_of(payload)))

    host.on("websocket", lambda ws: frames("host", ws))
    guest.on("websocket", lambda ws: frames("guest", ws))
    try:
        decoded = await b.wait_decoding(guest, timeout=30)
        feed = next(f for f, r in decoded.items() if r["video_frames"] > 0)
        await b.wait_decoding(host, timeout=30)
        await asyncio.sleep(1.5)  # the owner's media cards are written within half a second of a change

        for told in heard.values():
            told.clear()
        loop = asyncio.get_running_loop()
        os.kill(owner.process.pid, signal.SIGKILL)
        owner.process.wait(timeout=10)
        killed = loop.time()
        samples: list[tuple[float, int]] = []
        resumed: dict[str, float] = {}
        while loop.time() - killed < 16:
            samples.append((loop.time() - killed, int(await guest.evaluate(FRAMES_JS, feed))))
            for name, told in heard.items():
                if name not in resumed and "admitted" in told:  # (a resume: welcome, then admitted)
                    resumed[name] = loop.time() - killed
            if len(resumed) == 2 and loop.time() - killed > max(resumed.values()) + 3:
                break
            await asyncio.sleep(0.25)
        print(f"chromium failover: resumed {resumed}; guest's frames {samples[0][1]} → {samples[-1][1]} "
              f"over {samples[-1][0]:.1f} s")
        for t0, n0 in samples:
            later = [n for t, n in samples if t >= t0 + 1.0]
            if later:
                assert later[0] > n0, f"no frame decoded between {t0:.2f} s and {t0 + 1:.2f} s: {samples}"
        assert await asyncio.to_thread(front.owner) is other
        for page in (host, guest):
            await b.wait_state(page, "joined", timeout=5)
        # The host is back on the survivor: its page decodes the guest again (or still).
        await b.wait_decoding(host, timeout=15)
        assert set(resumed) == {"host", "guest"} and max(resumed.values()) < 12, resumed
        for told in heard.values():
            assert "participant.joined" not in told and "media.reset" not in told, heard
    finally:
        await host_ctx.close()
        await guest_ctx.close()
