"""A node SIGKILLed mid-meeting (issue 12, failover a): another node owns its meeting within the lease,
adopts who the database says is in it, and the browsers resume there with their resume tokens: nobody
is announced twice, no participant row or ``joined`` callback is made again."""

from __future__ import annotations

import asyncio
import functools
import os
import signal
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from meetkit.client import MeetingsClient
from meetkit.signalling import protocol
from meetkit.storage import tables as t

from ..redis_server import RedisServer
from ..signalling.test_signalling import make_room
from ..signalling_client import Peer
from ..support import create_application, server_container
from .conftest import Deployment, host_on_a_guest_on_b


@pytest.fixture
def deployment(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    d = Deployment(redis_server, tmp_path_factory.mktemp("failover"), ["node-a", "node-b"])
    yield d
    d.stop()


def _resume(peer: Peer) -> dict[str, Any]:
    return {"participant_id": peer.welcome["participant_id"], "resume_token": peer.welcome["resume_token"]}


async def _resume_on(base: str, code: str, name: str, old: Peer, deadline: float, **kw: Any) -> Peer:
    """Reconnects as the browser does after a close it can recover from, until it is admitted again."""
    loop = asyncio.get_running_loop()
    while True:
        peer = await Peer.open(base, code, name, resume=_resume(old), **kw)
        try:
            await peer.expect("admitted", timeout=3)
            return peer
        except AssertionError:
            assert peer.close_code in (None, protocol.CLOSE_MOVED), peer.close_code
            assert loop.time() < deadline, "not resumed in time"
            await peer.close()
            await asyncio.sleep(0.3)


async def test_a_node_killed_mid_meeting_its_browsers_resume_on_another(deployment: Deployment,
                                                                        tmp_path_factory: pytest.TempPathFactory
                                                                        ) -> None:
    a, b = deployment.nodes
    meeting = await host_on_a_guest_on_b(a, b, tmp_path_factory.mktemp("keys"))
    room_id, code, token, host, guest = meeting.room_id, meeting.code, meeting.token, meeting.host, meeting.guest
    loop = asyncio.get_running_loop()
    os.kill(a.process.pid, signal.SIGKILL)
    a.process.wait(timeout=10)
    killed = loop.time()
    # B notices that A is gone and closes the relayed socket 4503: the browser resumes through B.
    assert await guest.closed(timeout=10) == protocol.CLOSE_MOVED
    guest2 = await _resume_on(b.base_url, code, "Gus", guest, killed + 12)
    assert guest2.welcome["resumed"] is True and guest2.welcome["participant_id"] == guest.welcome["participant_id"]
    host2 = await _resume_on(b.base_url, code, "Hana", host, killed + 12, host_token=token)
    recovered = loop.time() - killed
    print(f"failover: both resumed on B {recovered:.2f} s after A was killed")
    assert recovered < 12, recovered
    assert host2.welcome["resumed"] is True and host2.welcome["role"] == "host"
    # The host came back: the guest hears it updated, never joined again.
    assert (await guest2.expect("participant.updated"))["participant"]["participant_id"] == host.id
    await guest2.send({"type": "chat.send", "text": "still here"})
    assert (await host2.expect("chat.message"))["text"] == "still here"
    assert not [f for f in guest2.frames + host2.frames if f["type"] == "participant.joined"]
    async with server_container(b) as c, c.sessions() as db:
        sessions = await db.scalar(select(func.count()).select_from(t.Session).where(t.Session.room_id == room_id))
        rows = await db.scalar(select(func.count()).select_from(t.Participant).where(t.Participant.room_id == room_id))
    assert (sessions, rows) == (1, 2)  # the same session and participants: nobody joined twice
    for peer in (guest2, host2):
        await peer.send({"type": "leave"})
        await peer.closed()


async def test_a_meeting_whose_node_died_and_nobody_came_back_is_ended_by_another(
        redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> None:
    d = await asyncio.to_thread(functools.partial(Deployment, redis_server, tmp_path_factory.mktemp("orphans"),
                                                  ["node-a", "node-b"], MEETKIT_RESUME_GRACE="2"))
    try:
        a, b = d.nodes
        app_id, key = await asyncio.to_thread(create_application, a, tmp_path_factory.mktemp("keys"))
        with MeetingsClient(a.base_url, app_id, key) as client:
            room_id, code, token = make_room(client)
        host = await Peer.open(a.base_url, code, "Hana", host_token=token)
        await host.expect("admitted")
        os.kill(a.process.pid, signal.SIGKILL)
        a.process.wait(timeout=10)
        await host.closed(timeout=10)
        # B looks for such meetings every two leases, adopts this one and, the grace over, ends it.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20
        async with server_container(b) as c:
            while True:
                async with c.sessions() as db:
                    ended = await db.scalar(select(t.Session.ended_at).where(t.Session.room_id == room_id))
                    reasons = (await db.scalars(select(t.Participant.left_reason)
                                                .where(t.Participant.room_id == room_id))).all()
                if ended is not None:
                    break
                assert loop.time() < deadline, "the orphaned session was never ended"
                await asyncio.sleep(0.2)
        assert reasons == ["dropped"]
    finally:
        await asyncio.to_thread(d.stop)
