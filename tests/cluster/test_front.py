"""deploy/haproxy.cfg in front of two real nodes (issue 12): the shipped configuration is valid, and,
with its server lines pointed at loopback nodes, the API goes round robin, a meeting's sockets are
hashed by its code to one node, and a node whose /readyz fails gets nothing new."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from meetkit.client import MeetingsClient

from ..redis_server import RedisServer
from ..signalling.test_signalling import make_room
from ..signalling_client import Peer
from ..support import Server, create_application, free_port, make_tls_cert
from .conftest import Deployment

CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "haproxy.cfg"
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"


def _render(folder: Path, nodes: list[Server], port: int) -> Path:
    """The shipped configuration with this test's certificate, port and nodes."""
    cert, key = make_tls_cert(folder)
    pem = folder / "front.pem"
    pem.write_text(cert.read_text() + key.read_text())
    text = CONFIG.read_text().replace("/etc/haproxy/certs/meetkit.pem", str(pem))
    text = text.replace("bind :443", f"bind 127.0.0.1:{free_port()}").replace("bind :80", f"bind 127.0.0.1:{port}")
    text = re.sub(r"^\s*http-request redirect scheme https.*$", "", text, flags=re.M)  # plain HTTP here
    text = text.replace("log stdout format raw local0", "").replace("maxconn 50000", "maxconn 2000")
    servers = "".join(f"    server node{i + 1} {n.base_url.removeprefix('http://')}\n" for i, n in enumerate(nodes))
    text = re.sub(r"(^\s*server node\d .*\n)+", servers, text, flags=re.M)
    out = folder / "haproxy.cfg"
    out.write_text(text)
    return out


@pytest.fixture(scope="module")
def front(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Deployment, str]]:
    d = Deployment(redis_server, tmp_path_factory.mktemp("front"), ["node-a", "node-b"])
    port = free_port()
    folder = tmp_path_factory.mktemp("haproxy")
    proc = subprocess.Popen([HAPROXY, "-db", "-f", str(_render(folder, d.nodes, port))],
                            stdout=(folder / "haproxy.log").open("wb"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:  # both nodes up in haproxy's eyes (rise 2 at 2 s)
            try:
                if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, (folder / "haproxy.log").read_text()
            time.sleep(0.1)
        yield d, base
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        d.stop()


def test_the_shipped_configuration_is_valid(tmp_path: Path) -> None:
    cert, key = make_tls_cert(tmp_path)
    pem = tmp_path / "front.pem"
    pem.write_text(cert.read_text() + key.read_text())
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(CONFIG.read_text().replace("/etc/haproxy/certs/meetkit.pem", str(pem)))
    checked = subprocess.run([HAPROXY, "-c", "-f", str(cfg)], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stdout + checked.stderr


async def test_a_meeting_through_the_front(front: tuple[Deployment, str],
                                          tmp_path_factory: pytest.TempPathFactory) -> None:
    d, base = front
    app_id, key = await asyncio.to_thread(create_application, d.nodes[0], tmp_path_factory.mktemp("keys"))
    with MeetingsClient(base, app_id, key) as client:
        _, code, token = make_room(client, "explicit_approval")
        rooms = [make_room(client)[0] for _ in range(3)]  # round robin: these land on both nodes
        assert {r["id"] for r in client.iter_rooms()} >= set(rooms)
    page = httpx.get(f"{base}/{code}", timeout=10)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    host = await Peer.open(base, code, "Hana", host_token=token)
    await host.expect("admitted")
    guest = await Peer.open(base, code, "Gus")
    await guest.expect("lobby")
    assert await host.lobby_until(bool) == ["Gus"]
    await host.send({"type": "host.admit", "participant_id": guest.id})
    await guest.expect("admitted")
    await guest.send({"type": "chat.send", "text": "through the front"})
    assert (await host.expect("chat.message"))["text"] == "through the front"
    for peer in (guest, host):
        await peer.send({"type": "leave"})
        await peer.closed()


async def test_a_node_that_goes_away_gets_nothing_new(front: tuple[Deployment, str],
                                                      tmp_path_factory: pytest.TempPathFactory) -> None:
    d, base = front
    app_id, key = await asyncio.to_thread(create_application, d.nodes[0], tmp_path_factory.mktemp("keys"))
    d.nodes[1].process.kill()  # node B dies: its health checks fail, haproxy stops sending it requests
    d.nodes[1].process.wait(timeout=10)
    gone = time.monotonic()
    with MeetingsClient(base, app_id, key) as client:
        ok_in_a_row = 0
        while ok_in_a_row < 4:  # round robin over two nodes: four in a row means B is out
            assert time.monotonic() - gone < 15, "haproxy kept sending requests to the dead node"
            try:
                make_room(client)
                ok_in_a_row += 1
            except Exception:
                ok_in_a_row = 0
                await asyncio.sleep(0.2)
        out_after = time.monotonic() - gone
        for _ in range(10):
            make_room(client)  # every one answered by A
    print(f"front: every request answered (by the other node) from {out_after:.1f} s after one died")
