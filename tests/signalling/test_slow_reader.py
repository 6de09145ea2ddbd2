"""A participant that stops reading its socket is closed alone, with 4408, and the meeting UI's own
socket module (web/static/signalling.js, run in Node against a real server) resumes from it with its
resume token: nobody sees it leave (issue 10: a full queue closed 4400, which the UI took as final)."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from meetkit.client import MeetingsClient
from meetkit.web.pages import static_dir

from ..signalling_client import Peer
from ..support import Server, create_application, start_server, stop_server
from .test_signalling import make_room

SLOW_CLOSE = "a browser is not reading its socket; closing it"  # the server's log line
ENV = {
    "MEETKIT_MEDIA_MODE": "off",
    "MEETKIT_SOCKET_SEND_QUEUE_BYTES": str(64 * 1024),
    "MEETKIT_SOCKET_CHAT_RATE": "10000",
    "MEETKIT_SOCKET_CHAT_BURST": "100000",
}

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js (scripts/services.sh)")


@pytest.fixture(scope="module")
def slow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # One backend: what is tested is the socket's queue, which no database takes part in.
    srv = start_server("sqlite", tmp_path_factory.mktemp("slow"), ENV, tls=False)
    yield srv
    stop_server(srv)


@pytest.fixture(scope="module")
def api(slow_server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MeetingsClient]:
    app_id, key = create_application(slow_server, tmp_path_factory.mktemp("keys"))
    with MeetingsClient(slow_server.base_url, app_id, key) as c:
        yield c


async def next_event(node: asyncio.subprocess.Process, want: str, timeout: float = 20) -> dict[str, Any]:
    assert node.stdout is not None
    async with asyncio.timeout(timeout):
        while True:
            line = await node.stdout.readline()
            assert line, f"node ended before {want}"
            event = json.loads(line)
            if event["event"] == want:
                return dict(event)
            assert event["event"] != "timeout"


async def test_a_slow_reader_is_closed_alone_and_resumes(slow_server: Server, api: MeetingsClient,
                                                         tmp_path: Path) -> None:
    _, code, token = make_room(api)
    host = await Peer.open(slow_server.base_url, code, "Hana", host_token=token)
    await host.expect("admitted")
    flag = tmp_path / "read-again"
    ws_url = slow_server.base_url.replace("http", "ws", 1) + f"/_meetkit/ws/{code}"
    node = await asyncio.create_subprocess_exec(
        "node", "--experimental-websocket", "--no-warnings", str(Path(__file__).with_name("slow_reader.mjs")),
        str(static_dir() / "signalling.js"), ws_url, str(flag), stdout=asyncio.subprocess.PIPE)
    try:
        sam = await next_event(node, "welcome")
        await next_event(node, "stalled")
        await host.expect("participant.joined")
        # Big chat lines until the server gives up on Sam: its kernel buffers fill, then its queue.
        text = "\N{GRINNING FACE}" * 2000
        log_start = slow_server.log_path.stat().st_size
        for i in range(5000):
            await host.send({"type": "chat.send", "text": text})
            await host.expect("chat.message")  # one at a time: the host's own queue stays short
            if i % 10 == 0 and SLOW_CLOSE in slow_server.log_path.read_bytes()[log_start:].decode(errors="replace"):
                break
        else:
            raise AssertionError("the slow reader was never closed")
        flag.touch()
        dropped = await next_event(node, "status")
        assert (dropped["status"], dropped["code"]) == ("reconnecting", 4408)
        again = await next_event(node, "welcome")
        assert again["resumed"] is True and again["participant_id"] == sam["participant_id"]
        await next_event(node, "admitted")
        await next_event(node, "done")
        assert await asyncio.wait_for(node.wait(), 10) == 0
    finally:
        if node.returncode is None:
            node.kill()
            await node.wait()
    # The host was never disturbed: still connected, and Sam joined once and never left.
    await host.send({"type": "ping"})
    await host.expect("pong")
    about_sam = [f for f in host.frames if f["type"] in ("participant.joined", "participant.left")]
    assert [f["type"] for f in about_sam] == ["participant.joined"]
    await host.send({"type": "leave"})
    await host.closed()
