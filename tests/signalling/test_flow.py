"""Flow control on the meeting socket over real WebSockets against a real server (issue 10): one
guest's flood of state frames ejects nobody else, frames over a class's limit get ``rate_limited``,
the lobby is capped and reaches hosts as coalesced deltas, one client address holds a bounded number
of sockets, and binary or oversized frames are answered without a traceback."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets

from meetkit.client import MeetingsClient
from meetkit.signalling import protocol

from ..conftest import BACKENDS
from ..signalling_client import Peer
from ..support import Server, create_application, start_server, stop_server
from .test_signalling import host_and_guest, make_room

PLACES = 30  # MEETKIT_MAX_PARTICIPANTS here: with the host in, 29 may wait
PER_ADDRESS = 10
ENV = {
    "MEETKIT_MEDIA_MODE": "off",
    "MEETKIT_MAX_PARTICIPANTS": str(PLACES),
    "MEETKIT_MAX_SOCKETS_PER_ADDRESS": str(PER_ADDRESS),
    "MEETKIT_LOBBY_UPDATE_INTERVAL": "1.0",
}


@pytest.fixture(scope="module", params=BACKENDS)
def flow_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(request.param, tmp_path_factory.mktemp(f"flow-{request.param}"), ENV, tls=False)
    yield srv
    stop_server(srv)


@pytest.fixture(scope="module")
def api(flow_server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MeetingsClient]:
    app_id, key = create_application(flow_server, tmp_path_factory.mktemp("keys"))
    with MeetingsClient(flow_server.base_url, app_id, key) as c:
        yield c


def ws_url(server: Server, code: str) -> str:
    return server.base_url.replace("http", "ws", 1) + f"/_meetkit/ws/{code}"


def updates_about(peer: Peer, participant_id: str) -> list[dict[str, Any]]:
    return [f for f in peer.frames if f["type"] == "participant.updated"
            and f["participant"]["participant_id"] == participant_id]


async def verdict(peer: Peer, timeout: float = 10) -> str:
    """``lobby`` once the knock waits, else the ``denied`` reason."""
    async with asyncio.timeout(timeout):
        while True:
            for frame in peer.frames:
                if frame["type"] == "lobby":
                    return "lobby"
                if frame["type"] == "denied":
                    return str(frame["reason"])
            await asyncio.sleep(0.01)


async def still_connected(*peers: Peer) -> None:
    for peer in peers:
        await peer.send({"type": "ping"})
        await peer.expect("pong")
        assert peer.close_code is None


async def leave(*peers: Peer) -> None:
    for peer in peers:
        with contextlib.suppress(websockets.ConnectionClosed):
            await peer.send({"type": "leave"})
        await peer.closed()


async def test_a_guest_flooding_hand_frames_ejects_nobody_else(flow_server: Server, api: MeetingsClient) -> None:
    """The reproduction of issue 10 finding 1: hello, then 5,000 ``hand`` frames back to back."""
    _, code, token = make_room(api)
    host, guest = await host_and_guest(flow_server.base_url, code, token)
    flooder = await Peer.open(flow_server.base_url, code, "Flo", local_addr=("127.0.0.9", 0))
    await flooder.expect("admitted")
    await host.expect("participant.joined")
    await guest.expect("participant.joined")
    frames = [json.dumps({"type": "hand", "raised": i % 2 == 0}) for i in range(5000)]
    with contextlib.suppress(websockets.ConnectionClosed):  # the server closes the flooder part-way
        for frame in frames:
            await flooder.ws.send(frame)
    assert await flooder.closed(timeout=10) == protocol.CLOSE_RATE_LIMITED
    # What errors reached it before the close (the close does not wait behind them) say rate_limited.
    errors = [f for f in flooder.frames if f["type"] == "error"]
    assert all(e["code"] == "rate_limited" and e["limit"] == "state" for e in errors)
    await still_connected(host, guest)
    for member in (host, guest):
        # Coalesced: a few updates about the flooder (one per 0.2 s while its frames were accepted),
        # not one per frame; before, 5,000 of them closed every member's socket.
        assert 1 <= len(updates_about(member, flooder.id)) <= 20, len(updates_about(member, flooder.id))
        assert len(member.frames) < 60
    # Closed for abuse is out of the meeting, with no resume grace: a resume (which would refill
    # nothing: the limits are the participant's) finds nobody and the hello makes a new participant.
    # (read from ``frames``: it may come before or after the pongs still_connected waited for; bounded)
    async with asyncio.timeout(5):
        while not (left := [f for f in host.frames if f["type"] == "participant.left"]):
            await asyncio.sleep(0.01)
    assert [(f["participant_id"], f["reason"]) for f in left] == [(flooder.id, "dropped")]
    back = await Peer.open(flow_server.base_url, code, "Flo", local_addr=("127.0.0.9", 0),
                           resume={"participant_id": flooder.id, "resume_token": flooder.welcome["resume_token"]})
    await back.expect("admitted")
    assert back.welcome["resumed"] is False and back.welcome["participant_id"] != flooder.id
    await leave(back, guest, host)


async def test_state_changes_are_coalesced_and_the_latest_wins(flow_server: Server, api: MeetingsClient) -> None:
    _, code, token = make_room(api)
    host, guest = await host_and_guest(flow_server.base_url, code, token)
    loop = asyncio.get_running_loop()
    started = loop.time()
    for i in range(40):  # within the burst (50): every frame is accepted, few are fanned out
        await guest.send({"type": "media.state", "mic": i % 2 == 0, "camera": i % 3 == 0})
    await guest.send({"type": "media.state", "mic": False, "camera": True})
    deadline = loop.time() + 5
    while True:
        seen = updates_about(host, guest.id)
        if seen and (seen[-1]["participant"]["mic"], seen[-1]["participant"]["camera"]) == (False, True):
            break
        assert loop.time() < deadline, seen
        await host.expect("participant.updated", timeout=deadline - loop.time())
    # The first change at once, then one per interval (0.2 s) at most: 41 changes, a few frames.
    assert len(updates_about(host, guest.id)) <= min(20, 2 + (loop.time() - started) / 0.2)
    assert not [f for f in guest.frames if f["type"] == "error"]
    await host.send({"type": "talking", "talking": True})
    assert (await guest.expect("talking"))["participant_id"] == host.id
    await leave(guest, host)


async def test_a_class_over_its_limit_is_answered_rate_limited(flow_server: Server, api: MeetingsClient) -> None:
    _, code, token = make_room(api)
    host = await Peer.open(flow_server.base_url, code, "Hana", host_token=token)
    await host.expect("admitted")
    for _ in range(15):  # ping: a burst of 10, then 1 per second
        await host.send({"type": "ping"})
    error = await host.expect("error", code="rate_limited")
    assert error["limit"] == "ping" and 0 < error["retry_after_ms"] <= 1000
    assert set(error) == {"type", "code", "message", "limit", "retry_after_ms"}
    async with asyncio.timeout(5):  # every ping is answered: a pong, or rate_limited
        while len([f for f in host.frames if f["type"] in ("pong", "error")]) < 15:
            await asyncio.sleep(0.01)
    pongs = len([f for f in host.frames if f["type"] == "pong"])
    assert 10 <= pongs < 15
    # The bucket refills at its rate: after the time the server named, a ping is answered again.
    await asyncio.sleep(1.05)  # one token at 1 per second, whatever was refilled meanwhile
    await host.send({"type": "ping"})
    async with asyncio.timeout(5):
        while len([f for f in host.frames if f["type"] == "pong"]) == pongs:
            await asyncio.sleep(0.01)
    assert [f["type"] for f in host.frames][-1] == "pong"
    # Other classes have their own buckets: chat still goes through.
    await host.send({"type": "chat.send", "text": "still here"})
    await host.expect("chat.message", text="still here")
    await leave(host)


async def test_binary_and_oversized_frames(flow_server: Server, api: MeetingsClient) -> None:
    _, code, token = make_room(api)
    log_start = flow_server.log_path.stat().st_size
    host = await Peer.open(flow_server.base_url, code, "Hana", host_token=token)
    await host.expect("admitted")
    await host.ws.send(b"\x00\x01binary")
    error = await host.expect("error")
    assert error["code"] == "bad_message"
    await still_connected(host)
    # Binary instead of hello: an error, then the protocol close.
    first = await websockets.connect(ws_url(flow_server, code))
    await first.send(b"\x7b\x7d")
    assert json.loads(await asyncio.wait_for(first.recv(), 5))["code"] == "bad_message"
    await asyncio.wait_for(first.wait_closed(), 5)
    assert first.close_code == protocol.CLOSE_PROTOCOL
    # A frame over socket_max_frame_bytes (128 KiB) is refused before it is read (1009, message too big).
    big = await Peer.open(flow_server.base_url, code, "Bea")
    await big.expect("admitted")
    with contextlib.suppress(websockets.ConnectionClosed):
        await big.ws.send(json.dumps({"type": "chat.send", "text": "x" * 200_000}))
    assert await big.closed() == 1009
    await still_connected(host)
    log = flow_server.log_path.read_bytes()[log_start:].decode(errors="replace")
    assert "Traceback" not in log and "KeyError" not in log
    await leave(host)


async def test_the_lobby_is_capped_and_hosts_get_coalesced_deltas(flow_server: Server, api: MeetingsClient) -> None:
    """Issue 10 finding 3: many knocks on an explicit_approval room. By default no more wait than the
    room has free places; the next get ``denied`` (lobby_full); the host hears of each one once."""
    _, code, token = make_room(api, "explicit_approval")
    host = await Peer.open(flow_server.base_url, code, "Hana", host_token=token)
    await host.expect("admitted")
    full = await host.expect("lobby.update")
    assert full["waiting"] == [] and full["count"] == 0
    knocks = 40
    # Spread over addresses: each holds at most PER_ADDRESS sockets.
    names = [f"K{i}" for i in range(knocks)]
    knockers = await asyncio.gather(*(
        Peer.open(flow_server.base_url, code, name, local_addr=(f"127.0.0.{20 + i % 5}", 0))
        for i, name in enumerate(names)))
    verdicts = await asyncio.gather(*(verdict(k) for k in knockers))
    waiting = [(name, k) for name, k, v in zip(names, knockers, verdicts, strict=True) if v == "lobby"]
    refused = [k for k, v in zip(knockers, verdicts, strict=True) if v != "lobby"]
    assert len(waiting) == PLACES - 1 and set(verdicts) == {"lobby", "lobby_full"}, verdicts
    for peer in refused:
        assert await peer.closed() == protocol.CLOSE_DENIED
    shown = await host.lobby_until(lambda shown: len(shown) == PLACES - 1, timeout=10)
    assert sorted(shown) == sorted(name for name, _ in waiting)
    updates = [f for f in host.frames if f["type"] == "lobby.update"]
    # Each newcomer is named to the host once (before: the whole list again for every knock, 435 names).
    assert sum(len(f.get("waiting", [])) + len(f["added"]) for f in updates) == PLACES - 1
    assert len(updates) < PLACES - 1
    lobby = [k for _, k in waiting]
    await still_connected(host, *lobby)
    # A host who resumes gets the whole lobby again, once.
    await host.drop()
    host = await Peer.open(flow_server.base_url, code, "Hana", host_token=token, resume={
        "participant_id": host.id, "resume_token": host.welcome["resume_token"]})
    assert len(await host.lobby_until(lambda shown: len(shown) == PLACES - 1)) == PLACES - 1
    first_update = next(f for f in host.frames if f["type"] == "lobby.update")
    assert host.welcome["resumed"] is True and len(first_update["waiting"]) == PLACES - 1
    await host.send({"type": "host.admit_all"})
    for peer in lobby:
        await peer.expect("admitted", timeout=10)
    assert await host.lobby_until(lambda names: not names, timeout=10) == []
    # The room is full now: no free place, so nobody may wait either.
    late = await Peer.open(flow_server.base_url, code, "Late", local_addr=("127.0.0.30", 0))
    assert (await late.expect("denied"))["reason"] == "lobby_full"
    await leave(*lobby, host)


async def test_one_address_holds_a_bounded_number_of_sockets(flow_server: Server, api: MeetingsClient) -> None:
    _, code, _ = make_room(api)
    here = ("127.0.0.7", 0)
    peers = [await Peer.open(flow_server.base_url, code, f"P{i}", local_addr=here) for i in range(PER_ADDRESS)]
    for peer in peers:
        await peer.expect("admitted")
    over = await websockets.connect(ws_url(flow_server, code), local_addr=here)
    await asyncio.wait_for(over.wait_closed(), 5)
    assert over.close_code == protocol.CLOSE_TOO_MANY_SOCKETS
    # Another address is not affected, nor are the sockets already open.
    other = await Peer.open(flow_server.base_url, code, "Otto", local_addr=("127.0.0.8", 0))
    await other.expect("admitted")
    await still_connected(*peers)
    # A socket that ends frees its place (once the server has seen it go: bounded retries).
    await leave(peers.pop())
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while True:
        again = await Peer.open(flow_server.base_url, code, "Again", local_addr=here)
        with contextlib.suppress(AssertionError):
            await again.expect("admitted", timeout=2)
            break
        assert again.close_code == protocol.CLOSE_TOO_MANY_SOCKETS and loop.time() < deadline
        await asyncio.sleep(0.05)
    await leave(again, other, *peers)


async def test_an_address_opens_sockets_at_a_bounded_rate_and_a_resume_refills_nothing(
        tmp_path: Path) -> None:
    """Reconnecting is no fresh start: one address opens at most a burst of sockets, then a few a
    second (close 4430); and a participant's rate limits outlive its socket, so a resume does not
    refill them."""
    env = {**ENV, "MEETKIT_SOCKET_OPENS_BURST": "6", "MEETKIT_SOCKET_OPENS_RATE": "0.01",
           "MEETKIT_SOCKET_CHAT_RATE": "0.01"}
    srv = await asyncio.to_thread(start_server, "sqlite", tmp_path, env, tls=False)
    try:
        app_id, key = await asyncio.to_thread(create_application, srv, tmp_path / "keys")
        with MeetingsClient(srv.base_url, app_id, key) as c:
            _, code, _token = make_room(c)
        ann = await Peer.open(srv.base_url, code, "Ann", local_addr=("127.0.0.11", 0))
        await ann.expect("admitted")
        for i in range(20):  # the chat burst, spent
            await ann.send({"type": "chat.send", "text": f"m{i}"})
        await ann.expect("chat.message", text="m19")
        await ann.drop()
        back = await Peer.open(srv.base_url, code, "Ann", local_addr=("127.0.0.11", 0),
                               resume={"participant_id": ann.id, "resume_token": ann.welcome["resume_token"]})
        await back.expect("admitted")
        assert back.welcome["resumed"] is True
        await back.send({"type": "chat.send", "text": "one more"})
        assert (await back.expect("error"))["code"] == "rate_limited"  # the same buckets as before the drop
        # Sockets 3 to 6 of this address, then the seventh is refused; another address is not.
        extra = [await Peer.open(srv.base_url, code, f"P{i}", local_addr=("127.0.0.11", 0)) for i in range(4)]
        try:  # closed at once: the hello may not even go out
            refused = await Peer.open(srv.base_url, code, "P5", local_addr=("127.0.0.11", 0))
            closed_with = await refused.closed()
        except websockets.ConnectionClosed as exc:
            closed_with = exc.rcvd.code if exc.rcvd is not None else None
        assert closed_with == protocol.CLOSE_TOO_MANY_SOCKETS
        other = await Peer.open(srv.base_url, code, "Ola", local_addr=("127.0.0.12", 0))
        await other.expect("admitted")
        await leave(other, back, *extra)
    finally:
        await asyncio.to_thread(stop_server, srv)
