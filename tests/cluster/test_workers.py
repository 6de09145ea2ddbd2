"""Three real nodes share the workers' rows (issue 12): each webhook is delivered once and each session
metered once, whichever node ran the meeting and whichever node's worker got there first."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from meetkit.client import MeetingsClient
from meetkit.storage import tables as t

from ..api.test_webhooks import make_application
from ..receiver import Receiver
from ..redis_server import RedisServer
from ..signalling.test_signalling import make_room
from ..signalling_client import Peer
from ..support import create_application, server_container
from .conftest import Deployment

ROOMS = 12


@pytest.fixture(scope="module")
def deployment(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    d = Deployment(redis_server, tmp_path_factory.mktemp("three"), ["node-1", "node-2", "node-3"],
                   MEETKIT_ALLOW_PRIVATE_CALLBACK_TARGETS="true", MEETKIT_USAGE_POLL_INTERVAL="0.2")
    yield d
    d.stop()


async def _meeting(base_host: str, base_guest: str, code: str, token: str) -> None:
    host = await Peer.open(base_host, code, "Hana", host_token=token)
    await host.expect("admitted")
    guest = await Peer.open(base_guest, code, "Gus")
    await guest.expect("admitted")
    for peer in (guest, host):
        await peer.send({"type": "leave"})
        await peer.closed()


async def test_three_nodes_deliver_each_webhook_once_and_meter_each_session_once(deployment: Deployment) -> None:
    nodes = deployment.nodes
    receiver = Receiver().start()
    try:
        app_id, _ = await asyncio.to_thread(make_application, nodes[0], sessions_url=receiver.url)
        rooms = []
        async with server_container(nodes[0]) as c:
            from meetkit.actions.rooms import do_create_room
            from meetkit.api.schemas import CreateRoomIn

            for i in range(ROOMS):
                room = await do_create_room(c, app_id, CreateRoomIn(display_name=f"r{i}"))
                rooms.append(room)
        # Each meeting's host on one node, its guest on the next: every node runs meetings and relays.
        await asyncio.gather(*(_meeting(nodes[i % 3].base_url, nodes[(i + 1) % 3].base_url, r.meeting_code,
                                        r.host_token) for i, r in enumerate(rooms)))
        expected = ROOMS * 6  # started, 2 joined, 2 left, ended
        await asyncio.to_thread(receiver.wait_for, lambda h: len(h) >= expected, 30)
        await asyncio.sleep(1.0)  # a second delivery of anything would arrive by now
        hits = receiver.snapshot()
        keys = Counter(h.headers["x-meetkit-idempotency-key"] for h in hits)
        assert len(hits) == expected and all(n == 1 for n in keys.values()), keys.most_common(3)
        events = Counter(json.loads(h.body)["event"] for h in hits)
        assert events == {"session:started": ROOMS, "session:ended": ROOMS, "session:participant:joined": 2 * ROOMS,
                          "session:participant:left": 2 * ROOMS}
        deadline = time.monotonic() + 20
        async with server_container(nodes[0]) as c:
            while True:
                async with c.sessions() as db:
                    monthly = (await db.scalars(select(t.UsageMonthly).where(t.UsageMonthly.application_id == app_id))
                               ).all()
                    items = await db.scalar(select(func.count()).select_from(t.UsageItem)
                                            .where(t.UsageItem.application_id == app_id))
                    unmetered = await db.scalar(select(func.count()).select_from(t.Session).where(
                        t.Session.application_id == app_id, t.Session.usage_metered_at.is_(None)))
                if unmetered == 0 and monthly:
                    break
                assert time.monotonic() < deadline, (unmetered, items)
                await asyncio.sleep(0.2)
        assert items == 2 * ROOMS
        assert sum(m.sessions for m in monthly) == ROOMS and sum(m.participants for m in monthly) == 2 * ROOMS
    finally:
        receiver.stop()


def test_the_api_works_through_any_node(deployment: Deployment, tmp_path_factory: pytest.TempPathFactory) -> None:
    app_id, key = create_application(deployment.nodes[0], tmp_path_factory.mktemp("api"))
    made = []
    for srv in deployment.nodes:
        with MeetingsClient(srv.base_url, app_id, key) as client:
            made.append(make_room(client)[0])
    with MeetingsClient(deployment.nodes[2].base_url, app_id, key) as client:
        assert {r["id"] for r in client.iter_rooms()} == set(made)
