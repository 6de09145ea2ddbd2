"""The several-machines tier (issue 12): real redis-server processes of the tests' own, PostgreSQL,
and real meetkit nodes sharing them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from meetkit.client import MeetingsClient

from ..redis_server import RedisServer, start_redis
from ..signalling.test_signalling import make_room
from ..signalling_client import Peer
from ..support import Server, create_application, create_pg_database, drop_pg_database, start_server, stop_server

SECRET = "the-deployment-shares-this-secret"  # every node of a deployment has the same
LEASE = 2.0  # seconds: a paused or killed owner loses its meetings quickly in these tests


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    srv = start_redis(tmp_path_factory.mktemp("redis"))
    yield srv
    srv.stop()


def node_env(redis_server: RedisServer, node: str, **extra: str) -> dict[str, str]:
    return {"MEETKIT_MEDIA_MODE": "off", "MEETKIT_REDIS_URL": redis_server.url, "MEETKIT_NODE_ID": node,
            "MEETKIT_ROOM_LEASE_SECONDS": str(LEASE), "MEETKIT_UNKNOWN_CODE_BURST": "1000000",
            "MEETKIT_SOCKET_OPENS_BURST": "1000000", "MEETKIT_SECRET_KEY": SECRET, **extra}


class Deployment:
    """``n`` meetkit nodes on one new PostgreSQL database and ``redis_server``."""

    def __init__(self, redis_server: RedisServer, folder: Path, names: list[str], **extra: str) -> None:
        self.database_url = create_pg_database()
        self.nodes: list[Server] = []
        try:
            for name in names:
                self.nodes.append(start_server("postgresql", folder / name, node_env(redis_server, name, **extra),
                                               database_url=self.database_url, tls=False))
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for srv in self.nodes:
            if srv.process.poll() is None:
                stop_server(srv, keep_database=True)
        drop_pg_database(self.database_url)


@dataclass
class Meeting:
    """A meeting whose host is on one node (which owns it) and whose guest is relayed from another."""

    room_id: str
    code: str
    token: str
    host: Peer
    guest: Peer
    application: tuple[str, str]


async def host_on_a_guest_on_b(a: Server, b: Server, keys: Path) -> Meeting:
    app_id, key = await asyncio.to_thread(create_application, a, keys)
    with MeetingsClient(a.base_url, app_id, key) as client:
        room_id, code, token = make_room(client)
    host = await Peer.open(a.base_url, code, "Hana", host_token=token)
    await host.expect("admitted")
    guest = await Peer.open(b.base_url, code, "Gus")  # relayed to A
    await guest.expect("admitted")
    await host.expect("participant.joined")
    return Meeting(room_id, code, token, host, guest, (app_id, key))
