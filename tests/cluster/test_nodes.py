"""Two real meetkit nodes on one PostgreSQL and one Redis (issue 12): a socket that reaches the node
which does not own its meeting is served there (relayed over Redis), room events from either node's
REST reach the owner, twenty first joins at once make one owner, and an owner paused past its lease
is fenced off when it wakes."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator

import httpx
import pytest
import redis
from sqlalchemy import func, select

from meetkit.client import MeetingsClient
from meetkit.signalling import protocol
from meetkit.storage import tables as t

from ..redis_server import RedisServer
from ..signalling.test_signalling import make_room
from ..signalling_client import Peer
from ..support import Server, create_application, server_container
from .conftest import Deployment


@pytest.fixture(scope="module")
def nodes(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    deployment = Deployment(redis_server, tmp_path_factory.mktemp("nodes"), ["node-a", "node-b"])
    yield deployment.nodes[0], deployment.nodes[1]
    deployment.stop()


@pytest.fixture(scope="module")
def app(nodes: tuple[Server, Server], tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    return create_application(nodes[0], tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="module")
def client(nodes: tuple[Server, Server], app: tuple[str, str]) -> Iterator[MeetingsClient]:
    with MeetingsClient(nodes[0].base_url, *app) as c:
        yield c


def _owner(redis_server: RedisServer, room_id: str) -> str | None:
    raw = redis.Redis(port=redis_server.port).get(f"meetkit:{{{room_id}}}:owner")
    return None if raw is None else raw.decode().rpartition("|")[0]


async def _leave(*peers: Peer) -> None:
    for peer in peers:
        await peer.send({"type": "leave"})
        await peer.closed()


async def test_host_on_a_and_guest_on_b_chat_lobby_and_host_controls(nodes: tuple[Server, Server],
                                                                      client: MeetingsClient,
                                                                      redis_server: RedisServer) -> None:
    a, b = nodes
    room_id, code, token = make_room(client, "explicit_approval")
    host = await Peer.open(a.base_url, code, "Hana", host_token=token)
    await host.expect("admitted")
    assert _owner(redis_server, room_id) == "node-a"
    guest = await Peer.open(b.base_url, code, "Gus")  # on B, which does not own the meeting
    assert (await guest.expect("lobby"))["reason"] == "approval"
    assert await host.lobby_until(bool) == ["Gus"]
    await host.send({"type": "host.admit", "participant_id": guest.id})
    admitted = await guest.expect("admitted")
    assert {p["name"] for p in admitted["participants"]} == {"Hana", "Gus"}
    await guest.send({"type": "chat.send", "text": "hello from B"})
    assert (await host.expect("chat.message"))["text"] == "hello from B"
    await host.send({"type": "chat.send", "text": "hello from A"})
    assert (await guest.expect("chat.message", text="hello from A"))["name"] == "Hana"
    await host.send({"type": "host.mute", "participant_id": guest.id})
    await guest.expect("muted")
    await host.send({"type": "host.remove", "participant_id": guest.id})
    await guest.expect("removed")
    assert await guest.closed() == protocol.CLOSE_REMOVED
    await _leave(host)


async def test_a_rest_delete_sent_to_b_ends_the_meeting_for_sockets_on_both(
        nodes: tuple[Server, Server], client: MeetingsClient, app: tuple[str, str]) -> None:
    a, b = nodes
    room_id, code, token = make_room(client)
    host = await Peer.open(a.base_url, code, "Hana", host_token=token)
    await host.expect("admitted")
    guest = await Peer.open(b.base_url, code, "Gus")
    await guest.expect("admitted")
    with MeetingsClient(b.base_url, *app) as on_b:
        on_b.delete_room(room_id)
    for peer in (host, guest):
        await peer.expect("meeting.ended")
        assert await peer.closed() == protocol.CLOSE_ENDED


async def test_twenty_first_joins_at_once_make_exactly_one_owner(nodes: tuple[Server, Server],
                                                                 client: MeetingsClient,
                                                                 redis_server: RedisServer) -> None:
    a, b = nodes
    room_id, code, _ = make_room(client)
    peers = await asyncio.gather(*(Peer.open((a, b)[i % 2].base_url, code, f"P{i}") for i in range(20)))
    await asyncio.gather(*(p.expect("admitted", timeout=15) for p in peers))
    assert _owner(redis_server, room_id) in ("node-a", "node-b")
    async with server_container(a) as c, c.sessions() as db:
        sessions = await db.scalar(select(func.count()).select_from(t.Session).where(t.Session.room_id == room_id))
        present = await db.scalar(select(func.count()).select_from(t.Participant)
                                  .where(t.Participant.room_id == room_id, t.Participant.left_at.is_(None)))
    assert (sessions, present) == (1, 20)
    # Wherever their socket is, they are in one meeting: each sees all twenty.
    for peer in (peers[0], peers[1]):
        admitted = next(f for f in peer.frames if f["type"] == "admitted")
        names = {x["name"] for x in admitted["participants"]}
        while len(names) < 20:
            names.add((await peer.expect("participant.joined", timeout=10))["participant"]["name"])
        assert names == {f"P{i}" for i in range(20)}
    await _leave(*peers)


async def test_a_paused_owner_is_fenced_off_when_it_wakes(nodes: tuple[Server, Server], client: MeetingsClient,
                                                         redis_server: RedisServer) -> None:
    a, b = nodes
    room_id, code, token = make_room(client)
    host = await Peer.open(a.base_url, code, "Hana", host_token=token)
    welcome_admitted = await host.expect("admitted")
    session_id = welcome_admitted["session_id"]
    assert _owner(redis_server, room_id) == "node-a"
    os.kill(a.process.pid, signal.SIGSTOP)
    try:
        # A's lease runs out; a guest arriving at B makes B the owner.
        deadline = asyncio.get_running_loop().time() + 10
        while _owner(redis_server, room_id) is not None:
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.1)
        guest = await Peer.open(b.base_url, code, "Gus")
        await guest.expect("admitted")
        assert _owner(redis_server, room_id) == "node-b"
        # Said to A while it sleeps: A reads it when it wakes, before it knows it lost the room.
        await host.send({"type": "chat.send", "text": "stale"})
    finally:
        os.kill(a.process.pid, signal.SIGCONT)
    assert await host.closed(timeout=10) == protocol.CLOSE_MOVED  # sent on to the owner
    async with server_container(a) as c, c.sessions() as db:
        texts = (await db.scalars(select(t.ChatMessage.text).where(t.ChatMessage.session_id == session_id))).all()
        epoch = await db.scalar(select(t.Room.owner_epoch).where(t.Room.id == room_id))
    assert "stale" not in texts  # A's write was refused
    owner = redis.Redis(port=redis_server.port).get(f"meetkit:{{{room_id}}}:owner")
    assert owner is not None and owner.decode() == f"node-b|{epoch}"
    # The host comes back through A, relayed to B.
    again = await Peer.open(a.base_url, code, "Hana", host_token=token)
    await again.expect("admitted")
    assert (await guest.expect("participant.joined"))["participant"]["name"] == "Hana"
    await _leave(again, guest)


def test_readyz_checks_redis_on_a_node_of_a_deployment(nodes: tuple[Server, Server]) -> None:
    r = httpx.get(nodes[1].base_url + "/readyz", timeout=10)
    assert r.status_code == 200
    assert r.json() == {"status": "ready", "checks": {"database": "ok", "redis": "ok", "media": "off"}}
