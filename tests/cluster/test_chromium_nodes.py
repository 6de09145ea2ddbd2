"""Two nodes behind the shipped haproxy configuration, sharing a pool of two Janus servers, and two
Chromium pages (issue 12): the host opens the host link through the front, the guest is sent to the
other node (its socket is relayed to the owner), and each decodes the other's video and audio."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Browser

from meetkit.actions.applications import do_set_embed_origins
from meetkit.client import MeetingsClient
from meetkit.config import Settings
from meetkit.media.supervisor import JanusSupervisor

from .. import browser as b
from ..redis_server import RedisServer
from ..support import MEDIA_ADDR, Server, create_application, free_port, media_net, server_container
from .conftest import Deployment
from .test_front import HAPROXY, _render

pytestmark = [
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.skipif(not b.chromium_available(), reason="Debian chromium is installed by scripts/services.sh"),
    pytest.mark.skipif(os.geteuid() != 0, reason="the loopback media link needs root (CI runs as root)"),
]

ADMIN_KEY = "the-pool-of-this-test"


class Front:
    def __init__(self, deployment: Deployment, base: str) -> None:
        self.deployment, self.base = deployment, base

    def owner(self) -> Server:
        """The node holding the live meeting (its /metrics counts it)."""
        for node in self.deployment.nodes:
            if node.process.poll() is not None:
                continue  # (killed by the test)
            text = httpx.get(node.base_url + "/metrics", timeout=5).text
            found = re.search(r"^meetkit_live_meetings (\S+)$", text, flags=re.M)
            if found and float(found.group(1)) >= 1:
                return node
        raise AssertionError("no node holds the meeting")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def front(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Front]:
    media_net()
    janus: list[JanusSupervisor] = []
    proc: subprocess.Popen[bytes] | None = None
    d: Deployment | None = None
    try:
        for name in ("a", "b"):
            rtp = 44000 + free_port() % 15000
            janus.append(JanusSupervisor(Settings(
                data_dir=tmp_path_factory.mktemp(f"janus-{name}"), janus_ws_port=free_port(),
                janus_admin_port=free_port(), media_rtp_ports=f"{rtp}-{rtp + 300}", media_ice_interface=MEDIA_ADDR,
                janus_admin_key=ADMIN_KEY, janus_reclaim_seconds=30, _env_file=None)))  # type: ignore[call-arg]
            await janus[-1].start()
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        d = await asyncio.to_thread(
            Deployment, redis_server, tmp_path_factory.mktemp("nodes"), ["node-a", "node-b"],
            MEETKIT_PUBLIC_URL=base, MEETKIT_MEDIA_MODE="external",
            MEETKIT_JANUS_URLS=f"a={janus[0].url},b={janus[1].url}",
            MEETKIT_JANUS_ADMIN_KEY=ADMIN_KEY, MEETKIT_MEDIA_CANDIDATE_NETWORKS="127.0.0.0/8")
        folder = tmp_path_factory.mktemp("haproxy")
        proc = subprocess.Popen([HAPROXY, "-db", "-f", str(_render(folder, d.nodes, port))],
                                stdout=(folder / "haproxy.log").open("wb"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while True:  # both nodes up in haproxy's eyes (rise 2 at 2 s)
            try:
                if (await asyncio.to_thread(httpx.get, base + "/readyz", timeout=2)).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, (folder / "haproxy.log").read_text()
            await asyncio.sleep(0.1)
        yield Front(d, base)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=10)
        if d is not None:
            await asyncio.to_thread(d.stop)
        for j in janus:
            await j.stop()


async def test_host_through_the_front_and_guest_on_the_other_node_see_each_other(
        front: Front, chromium: Browser, tmp_path: Path) -> None:
    a = front.deployment.nodes[0]
    app_id, key = await asyncio.to_thread(create_application, a, tmp_path)
    # The guest's page is sent to a node directly: its origin is not the front's (the public URL), so
    # the application allows it as it would allow a site that embeds the meeting.
    async with server_container(a) as c:
        await do_set_embed_origins(c, app_id, [n.base_url for n in front.deployment.nodes])
    with MeetingsClient(front.base, app_id, key) as api:
        room = await asyncio.to_thread(api.create_room, {"display_name": "two nodes", "join_approval_level": "none"})
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
    assert await asyncio.to_thread(front.owner) is owner  # the guest's socket is relayed, not moved

    host_in = await b.wait_decoding(host, timeout=30)
    guest_in = await b.wait_decoding(guest, timeout=30)
    assert host_in and guest_in
    # The video keeps coming: a second look decodes more frames on both pages.
    await asyncio.sleep(2)
    for page, before in ((host, host_in), (guest, guest_in)):
        after = await b.inbound(page)
        assert sum(r["video_frames"] for r in after.values()) > sum(r["video_frames"] for r in before.values())
    await host_ctx.close()
    await guest_ctx.close()
