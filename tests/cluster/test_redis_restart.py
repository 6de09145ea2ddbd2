"""Redis restarted mid-meeting (issue 12, failover c): it comes back empty (no persistence); the
meeting goes on, the owner re-asserts its lease with the same epoch, relayed sockets resume, and the
nodes hear each other's room events again."""

from __future__ import annotations

import asyncio
import functools

import pytest
import redis

from meetkit.client import MeetingsClient
from meetkit.signalling import protocol

from ..redis_server import RedisServer
from .conftest import Deployment, host_on_a_guest_on_b
from .test_failover import _resume_on


async def test_redis_restarted_the_meeting_goes_on_and_the_lease_is_reasserted(
        redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> None:
    d = await asyncio.to_thread(functools.partial(Deployment, redis_server, tmp_path_factory.mktemp("restart"),
                                                  ["node-a", "node-b"]))
    try:
        a, b = d.nodes
        meeting = await host_on_a_guest_on_b(a, b, tmp_path_factory.mktemp("keys"))
        room_id, code, host, guest = meeting.room_id, meeting.code, meeting.host, meeting.guest
        app_id, key = meeting.application
        r = redis.Redis(port=redis_server.port)
        key_name = f"meetkit:{{{room_id}}}:owner"
        before = r.get(key_name)
        assert before is not None and before.decode().startswith("node-a|")
        await asyncio.to_thread(redis_server.stop)
        await asyncio.sleep(1.0)
        await asyncio.to_thread(redis_server.start)
        assert r.get(key_name) in (None, before)  # it came back empty (A may have re-asserted already)
        loop = asyncio.get_running_loop()
        back = loop.time()
        deadline = back + 10
        while r.get(key_name) != before:  # re-asserted by A, same epoch
            assert loop.time() < deadline, r.get(key_name)
            await asyncio.sleep(0.05)
        reasserted = loop.time() - back
        # What a relayed socket said while Redis was away is lost: B closes it 4503 once it is
        # subscribed again, and it resumes, as a browser does. The host's own socket on A goes on.
        assert await guest.closed(timeout=10) == protocol.CLOSE_MOVED
        guest = await _resume_on(b.base_url, code, "Gus", guest, loop.time() + 10)
        assert guest.welcome["resumed"] is True
        assert host.close_code is None
        print(f"redis restart: lease re-asserted {reasserted:.2f} s after Redis was back, "
              f"the relayed socket resumed {loop.time() - back:.2f} s after")
        await guest.send({"type": "chat.send", "text": "after the restart"})
        assert (await host.expect("chat.message", timeout=10))["text"] == "after the restart"
        # Room events travel again: a delete through B ends the meeting on A.
        with MeetingsClient(b.base_url, app_id, key) as on_b:
            on_b.delete_room(room_id)
        await host.expect("meeting.ended", timeout=10)
        await guest.expect("meeting.ended", timeout=10)
    finally:
        await asyncio.to_thread(d.stop)
