"""TURN credentials reach each participant (signalling/ice.py): none in ``welcome`` before admission,
the first set in ``ice.servers`` right after ``admitted``, then a fresh ``ice.servers`` at 75 % of
their lifetime, again and again, until the participant leaves. In-process on a FakeClock
(the browsers and the fake media server of test_room_unit.py): nothing sleeps real seconds."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest
import pytest_asyncio

from meetkit.actions.applications import do_create_application
from meetkit.app import build_container
from meetkit.clock import FakeClock
from meetkit.config import Settings
from meetkit.container import Container
from meetkit.domain.turn import credential
from meetkit.signalling.rooms import Rooms
from meetkit.storage import migrate

from .test_room_unit import OPEN, Browser, FakeMedia, make_room

TTL = 40


@pytest_asyncio.fixture(loop_scope="session")
async def container(tmp_path: Path) -> AsyncIterator[Container]:
    settings = Settings(data_dir=tmp_path, media_mode="off", turn_urls="turn:turn.example.com:3478",
                        turn_secret="north", turn_credential_ttl=TTL, _env_file=None)  # type: ignore[call-arg]
    c = build_container(settings, FakeClock())
    await migrate.upgrade(c.engine)
    yield c
    await c.engine.dispose()


@pytest_asyncio.fixture(loop_scope="session")
async def rooms(container: Container) -> AsyncIterator[Rooms]:
    node_rooms = Rooms(container, FakeMedia())
    yield node_rooms
    await node_rooms.close()
    async with asyncio.timeout(5):
        await asyncio.gather(*(b.task for b in OPEN))
    OPEN.clear()
    node_rooms.node.cancel_tasks()
    await asyncio.gather(*node_rooms.node.tasks, return_exceptions=True)


def check_set(servers: list[dict[str, object]], participant_id: str, expires_at: datetime) -> None:
    (server,) = servers
    name = f"{int(expires_at.timestamp())}:{participant_id}"
    assert server == {"urls": ["turn:turn.example.com:3478"], "username": name,
                      "credential": credential(b"north", name)}


@pytest.mark.asyncio(loop_scope="session")
async def test_admitted_then_a_fresh_set_before_expiry_until_leaving(container: Container, rooms: Rooms,
                                                                    tmp_path: Path) -> None:
    clock = container.clock
    assert isinstance(clock, FakeClock)
    app = await do_create_application(container, "unit", key_dir=tmp_path / "keys")
    room = await make_room(container, app.application_id)
    guest = await Browser.open(rooms, room.meeting_code, "Gus")
    start = clock.now()
    assert guest.welcome["ice_servers"] == []  # not yet in the meeting: no relay credentials
    await guest.expect("admitted")
    first = await guest.expect("ice.servers")
    expiry = datetime.fromisoformat(first["expires_at"].replace("Z", "+00:00"))
    assert (expiry - start).total_seconds() == TTL
    check_set(first["ice_servers"], guest.id, expiry)
    guest.seen.clear()

    for _ in range(2):  # each set is followed by the next one at 75 % of its lifetime
        clock.advance(TTL * 0.75 - 1)
        await asyncio.sleep(0.01)
        assert not any(f["type"] == "ice.servers" for f in guest.seen)
        clock.advance(1)
        fresh = await guest.expect("ice.servers")
        expires_at = datetime.fromisoformat(fresh["expires_at"].replace("Z", "+00:00"))
        assert (expires_at - clock.now()).total_seconds() == TTL
        check_set(fresh["ice_servers"], guest.id, expires_at)
        guest.seen.clear()

    guest.send({"type": "leave"})
    await guest.closed()
    assert not [x for x in rooms.node.tasks if x.get_name() == "ice-refresh" and not x.done()]


@pytest.mark.asyncio(loop_scope="session")
async def test_a_knocker_gets_credentials_only_once_admitted(container: Container, rooms: Rooms,
                                                             tmp_path: Path) -> None:
    clock = container.clock
    assert isinstance(clock, FakeClock)
    app = await do_create_application(container, "lobby", key_dir=tmp_path / "keys-lobby")
    room = await make_room(container, app.application_id, "explicit_approval")
    host = await Browser.open(rooms, room.meeting_code, "Hana", host_token=room.host_token)
    await host.expect("admitted")
    guest = await Browser.open(rooms, room.meeting_code, "Gus")
    assert guest.welcome["state"] == "lobby" and guest.welcome["ice_servers"] == []
    await guest.expect("lobby")
    clock.advance(TTL)  # a lobby wait past a lifetime: still nothing (no refresh timer for the lobby)
    await asyncio.sleep(0.01)
    assert not any(f["type"] == "ice.servers" for f in guest.seen)

    host.send({"type": "host.admit", "participant_id": guest.id})
    await guest.expect("admitted")
    first = await guest.expect("ice.servers")
    expiry = datetime.fromisoformat(first["expires_at"].replace("Z", "+00:00"))
    check_set(first["ice_servers"], guest.id, expiry)

    for b in (guest, host):
        b.send({"type": "leave"})
        await b.closed()
