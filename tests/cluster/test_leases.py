"""Room leases in a real Redis and fencing in a real PostgreSQL (cluster/leases.py, cluster/ownership.py,
storage/fences.py): one owner of any number asking at once, epochs that only grow, Redis losing
everything, and an owner that lost its lease refused by the database."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from meetkit.actions import meetings
from meetkit.app import build_container
from meetkit.cluster.leases import RoomLeases
from meetkit.cluster.ownership import LeasedOwnership
from meetkit.config import Settings
from meetkit.container import Container
from meetkit.storage import migrate
from meetkit.storage.fences import Fenced

from ..redis_server import RedisServer
from ..support import create_pg_database, drop_pg_database
from .conftest import SECRET


@pytest.fixture
async def redis(redis_server: RedisServer) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_server.url)
    yield client
    await client.aclose()


@pytest.fixture(scope="module")
async def pg(tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer) -> AsyncIterator[Container]:
    url = await asyncio.to_thread(create_pg_database)
    c = build_container(Settings(data_dir=tmp_path_factory.mktemp("data"), database_url=url, media_mode="off",
                                 redis_url=redis_server.url, secret_key=SECRET))
    await migrate.upgrade(c.engine)
    yield c
    await c.dispose()
    await asyncio.to_thread(drop_pg_database, url)


async def test_of_twenty_nodes_asking_at_once_exactly_one_gets_the_lease(redis: Redis) -> None:
    leases = RoomLeases(redis, ttl=5)
    room = str(uuid.uuid4())
    answers = await asyncio.gather(*(leases.acquire(room, f"node-{i}", floor=7) for i in range(20)))
    winners = [lease for won, lease in answers if won]
    assert len(winners) == 1
    owner = winners[0]
    assert owner.epoch == 8  # above the database's floor
    assert all(lease == owner for _, lease in answers)  # the losers are told who owns it
    assert await leases.owner(room) == owner
    assert await leases.renew([owner]) == [True]
    stranger = type(owner)(room, "node-x", owner.epoch)
    assert await leases.renew([stranger]) == [False]
    await leases.release(owner)
    assert await leases.owner(room) is None
    won, again = await leases.acquire(room, "node-3", floor=0)
    assert won and again.epoch == owner.epoch + 1  # epochs only grow


async def test_a_lease_lost_with_redis_is_reasserted_and_new_epochs_stay_above_the_floor(
        redis: Redis, redis_server: RedisServer) -> None:
    leases = RoomLeases(redis, ttl=5)
    room = str(uuid.uuid4())
    _, lease = await leases.acquire(room, "node-a", floor=41)
    await redis.flushall()  # Redis restarted without persistence: leases and epoch counters are gone
    assert await leases.renew([lease]) == [True]  # re-asserted: nobody was handed a newer epoch
    assert await leases.owner(room) == lease
    won, _ = await leases.acquire(room, "node-b", floor=0)
    assert not won
    await redis.flushall()
    # Another node got there first after the restart: the old owner's re-assertion fails.
    won, newer = await leases.acquire(room, "node-b", floor=lease.epoch)
    assert won and newer.epoch == lease.epoch + 1
    assert await leases.renew([lease]) == [False]


async def test_an_owner_whose_lease_ran_out_is_fenced_off_by_the_database(pg: Container, redis: Redis) -> None:
    c = pg
    room_id, _ = await _room(c)
    a = LeasedOwnership(RoomLeases(redis, ttl=1), c.sessions, c.clock, node_id="node-a")
    b = LeasedOwnership(RoomLeases(redis, ttl=1), c.sessions, c.clock, node_id="node-b")
    lost: list[str] = []

    async def on_lost(room: str) -> None:
        lost.append(room)

    a.on_lost(on_lost)
    fence_a = await a.claim(room_id, 0)
    assert fence_a is not None and fence_a.epoch is not None
    assert await b.claim(room_id, 0) is None  # a owns it
    joined = await meetings.do_join(c, room_id, "p-a", "Ann", True, fence=fence_a)
    # a pauses (SIGSTOP, a long GC, a cut cable): its lease runs out and b takes the room over.
    deadline = asyncio.get_running_loop().time() + 5
    while (fence_b := await b.claim(room_id, fence_a.epoch)) is None:
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.1)
    assert fence_b.epoch is not None and fence_b.epoch > fence_a.epoch
    # a wakes and writes before it notices: refused, and nothing of it is stored.
    with pytest.raises(Fenced):
        await meetings.do_post_chat(c, joined.session_id, "p-a", "Ann", "stale", is_host=True, fence=fence_a)
    with pytest.raises(Fenced):
        await meetings.do_leave(c, "p-a", "left", fence=fence_a)
    assert await a.renew_all() == [room_id] and lost == [room_id]
    assert room_id not in a.held
    # The new owner writes as usual.
    line = await meetings.do_post_chat(c, joined.session_id, "p-a", "Ann", "fresh", is_host=True, fence=fence_b)
    assert line.text == "fresh"
    assert [x.text for x in await meetings.chat_of_session(c, joined.session_id)] == ["fresh"]
    await b.stop()


async def test_joins_on_one_node_share_one_claim_and_a_release_can_be_taken_back(pg: Container,
                                                                                 redis: Redis) -> None:
    c = pg
    room_id, _ = await _room(c)
    a = LeasedOwnership(RoomLeases(redis, ttl=5), c.sessions, c.clock, node_id="node-a")
    fences = await asyncio.gather(*(a.claim(room_id, 0) for _ in range(10)))
    assert len({f.epoch for f in fences if f is not None}) == 1 and None not in fences
    a.release_soon(room_id)
    again = await a.claim(room_id, 0)  # the room filled again before its release ran: the lease stays
    await asyncio.sleep(0.05)
    assert again == fences[0] and room_id in a.held
    owner = await a.leases.owner(room_id)
    assert owner is not None and owner.node == "node-a"
    a.release_soon(room_id)
    await asyncio.sleep(0.05)
    assert await a.leases.owner(room_id) is None
    await a.stop()


async def _room(c: Container) -> tuple[str, str]:
    from meetkit.actions.applications import do_create_application
    from meetkit.actions.rooms import do_create_room
    from meetkit.api.schemas import CreateRoomIn

    app = await do_create_application(c, "cluster")
    room = await do_create_room(c, app.application_id, CreateRoomIn(display_name="fenced"))
    return room.id, app.application_id


async def test_a_node_restarted_with_the_same_id_takes_its_old_leases_back(pg: Container, redis: Redis) -> None:
    c = pg
    room_id, _ = await _room(c)
    before = LeasedOwnership(RoomLeases(redis, ttl=30), c.sessions, c.clock, node_id="node-a")
    old = await before.claim(room_id, 0)  # then the process dies: its lease stays for 30 s
    assert old is not None and old.epoch is not None
    after = LeasedOwnership(RoomLeases(redis, ttl=30), c.sessions, c.clock, node_id="node-a")
    new = await asyncio.wait_for(after.claim(room_id, old.epoch), 5)
    assert new is not None and new.epoch is not None and new.epoch > old.epoch
    await after.stop()
