"""A pool of Janus servers (MEETKIT_JANUS_URLS, issue 12): two real Janus processes behind one meetkit
node, `meetkit media drain|undrain|list` run as an operator runs them, aiortc participants on loopback.

- A drained Janus gets no new meeting; undrained, it takes the next (it is the less loaded).
- A killed Janus's meeting comes back on the other: both browsers are told `media.reset`, publish
  again, and the guest hears the host again.

Janus "b" is run the way an operator runs one of a pool, `meetkit janus run`."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from meetkit.client import MeetingsClient
from meetkit.config import Settings
from meetkit.media.supervisor import JanusSupervisor
from meetkit.media.videoroom import MediaServer

from ..signalling_client import Peer
from ..support import MEDIA_ADDR, Server, create_application, free_port, media_net, start_server, stop_server

aiortc = pytest.importorskip("aiortc")

from ..media.peers import Receiver, Voice, publish  # noqa: E402  (aiortc is there)

pytestmark = pytest.mark.asyncio(loop_scope="session")


ADMIN_KEY = "the-pool-shares-this-admin-key"


def _janus(folder: Path, rtp: int) -> JanusSupervisor:
    """A Janus run by the test, with the pool's admin key."""
    settings = Settings(data_dir=folder, janus_ws_port=free_port(), janus_admin_port=free_port(),
                        media_rtp_ports=f"{rtp}-{rtp + 300}", media_ice_interface=MEDIA_ADDR,
                        janus_admin_key=ADMIN_KEY, janus_reclaim_seconds=30,
                        _env_file=None)  # type: ignore[call-arg]
    return JanusSupervisor(settings)


@dataclass
class RunJanus:
    """A Janus as an operator runs one of a pool: `meetkit janus run` (deploy/systemd/meetkit-janus.service)."""

    process: subprocess.Popen[bytes]
    url: str

    @classmethod
    async def start(cls, folder: Path, rtp: int) -> RunJanus:
        port = free_port()
        env = {**os.environ, "MEETKIT_DATA_DIR": str(folder), "MEETKIT_JANUS_WS_PORT": str(port),
               "MEETKIT_JANUS_ADMIN_PORT": str(free_port()), "MEETKIT_MEDIA_RTP_PORTS": f"{rtp}-{rtp + 300}",
               "MEETKIT_MEDIA_ICE_INTERFACE": MEDIA_ADDR, "MEETKIT_JANUS_ADMIN_KEY": ADMIN_KEY,
               "MEETKIT_JANUS_RECLAIM_SECONDS": "30"}
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / "run.out").open("wb") as out:
            proc = subprocess.Popen([sys.executable, "-m", "meetkit.cli", "janus", "run"], env=env,
                                    stdout=out, stderr=subprocess.STDOUT)
        janus = cls(proc, f"ws://127.0.0.1:{port}")
        server = MediaServer(janus.url, admin_key=ADMIN_KEY, api_secret=None)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20
        while True:  # up once it answers on its API
            try:
                await server.start()
                await server.stop()
                return janus
            except Exception:
                assert proc.poll() is None, (folder / "run.out").read_text()
                if loop.time() > deadline:
                    proc.kill()
                    raise
                await asyncio.sleep(0.2)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


class Pool:
    def __init__(self, server: Server, janus: dict[str, JanusSupervisor | RunJanus], keys: Path) -> None:
        self.server, self.janus, self.keys = server, janus, keys

    def meetkit(self, *args: str) -> list[str]:
        """The CLI, with the node's settings: its output lines."""
        done = subprocess.run([sys.executable, "-m", "meetkit.cli", *args], env={**os.environ, **self.server.env},
                              capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout.splitlines()

    def listed(self) -> dict[str, dict[str, Any]]:
        return {row["name"]: row for row in map(json.loads, self.meetkit("media", "list"))}

    async def rooms_on(self, name: str) -> int:
        janus = self.janus[name]
        server = MediaServer(janus.url, admin_key=ADMIN_KEY, api_secret=None)
        await server.start()
        try:
            return len(await server.room_sizes())
        finally:
            await server.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def pool(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Pool]:
    media_net()
    tmp_path = tmp_path_factory.mktemp("pool")
    first = _janus(tmp_path / "a", 43000 + free_port() % 8000)
    await first.start()
    second: RunJanus | None = None
    srv = None
    try:
        second = await RunJanus.start(tmp_path / "b", 52000 + free_port() % 8000)
        srv = await asyncio.to_thread(start_server, "postgresql", tmp_path / "node", {
            "MEETKIT_MEDIA_MODE": "external", "MEETKIT_JANUS_URLS": f"a={first.url},b={second.url}",
            "MEETKIT_JANUS_ADMIN_KEY": ADMIN_KEY, "MEETKIT_MEDIA_CANDIDATE_NETWORKS": "127.0.0.0/8"},
            tls=False)
        yield Pool(srv, {"a": first, "b": second}, tmp_path)
    finally:
        if srv is not None:
            await asyncio.to_thread(stop_server, srv)
        if second is not None:
            second.kill()
        await first.stop()


async def _meeting(pool: Pool, name: str) -> tuple[Peer, Any, str]:
    """A meeting whose host publishes a loud microphone: (host, its PeerConnection, the meeting code)."""
    app_id, key = await asyncio.to_thread(create_application, pool.server, pool.keys, name)
    with MeetingsClient(pool.server.base_url, app_id, key) as api:
        room = api.create_room({"display_name": name, "join_approval_level": "none"})
    token = room["_links"]["host_url"]["href"].split("participant_token=")[1]
    host = await Peer.open(pool.server.base_url, room["meeting_code"], "Hana", host_token=token)
    await host.expect("admitted")
    voice = Voice()
    voice.speak()
    return host, await publish(host, voice=voice), room["meeting_code"]


async def _leave(*peers: Peer) -> None:
    for peer in peers:
        await peer.send({"type": "leave"})
        await peer.close()


async def test_a_drained_janus_gets_no_new_meeting(pool: Pool) -> None:
    assert pool.meetkit("media", "drain", "a") == ["a: drained: no new meeting goes to it"]
    host, pc, _ = await _meeting(pool, "first")
    try:
        listed = pool.listed()
        assert listed["a"]["draining"] and listed["a"]["meetings"] == 0 and listed["a"]["reachable"]
        assert listed["b"]["meetings"] == 1 and not listed["b"]["draining"]
        assert (await pool.rooms_on("a"), await pool.rooms_on("b")) == (0, 1)
        # Undrained, a takes the next meeting: it carries none, b carries one.
        pool.meetkit("media", "undrain", "a")
        host2, pc2, _ = await _meeting(pool, "second")
        try:
            assert (await pool.rooms_on("a"), await pool.rooms_on("b")) == (1, 1)
            assert {n: row["meetings"] for n, row in pool.listed().items()} == {"a": 1, "b": 1}
        finally:
            await _leave(host2)
            await pc2.close()
    finally:
        await _leave(host)
        await pc.close()


async def test_an_unknown_janus_name_is_refused(pool: Pool) -> None:
    done = subprocess.run([sys.executable, "-m", "meetkit.cli", "media", "drain", "c"],
                          env={**os.environ, **pool.server.env}, capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 1
    assert "no Janus named 'c'" in done.stderr and "a, b" in done.stderr


async def test_a_killed_janus_meeting_comes_back_on_the_other(pool: Pool) -> None:
    pool.meetkit("media", "drain", "a")
    host, pc, code = await _meeting(pool, "third")  # on b
    guest = await Peer.open(pool.server.base_url, code, "Gus")
    await guest.expect("admitted")
    receiver = Receiver(guest)
    pcs: list[Any] = [pc]
    receivers = [receiver]
    try:
        await _heard(receiver, host.id)
        pool.meetkit("media", "undrain", "a")  # a drained Janus takes no meeting, a moved one included
        seen = (len(host.frames), len(guest.frames))
        janus_b = pool.janus["b"]
        assert isinstance(janus_b, RunJanus)
        janus_b.kill()  # SIGKILL, and nobody brings it back
        await host.expect("media.reset", timeout=15)
        await guest.expect("media.reset", timeout=15)
        await receiver.close()  # as the page does: everything received is dropped, then subscribed again
        receivers.append(Receiver(guest, since=seen[1]))
        voice = Voice()
        voice.speak()
        await pc.close()
        pcs.append(await publish(host, voice=voice))
        await _heard(receivers[-1], host.id)
        assert pool.listed()["a"]["meetings"] == 1
        assert await pool.rooms_on("a") >= 1
    finally:
        for r in receivers:
            await r.close()
        for p in pcs:
            await p.close()
        await _leave(guest, host)


async def _heard(receiver: Receiver, who: str, timeout: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while receiver.loud_frames.get(who, 0) < 10:
        assert loop.time() < deadline, f"not heard within {timeout}s: {receiver.loud_frames}"
        await asyncio.sleep(0.1)
