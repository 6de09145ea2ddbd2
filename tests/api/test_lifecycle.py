"""Room lifecycle: timers are rows (rooms.expiry_due_at); tests move a fake clock instead of sleeping,
on SQLite and PostgreSQL, and one test lets a real server expire a room and call a real receiver."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from meetkit.actions.lifecycle import do_delete_retained_rooms, do_expire_due_rooms
from meetkit.actions.rooms import do_create_room, do_update_room
from meetkit.api.schemas import CreateRoomIn, UpdateRoomIn
from meetkit.app import build_container
from meetkit.client import MeetingsClient
from meetkit.clock import FakeClock
from meetkit.config import Settings
from meetkit.container import Container
from meetkit.domain.webhooks import verify
from meetkit.storage import tables as t

from ..receiver import Receiver
from ..support import Server, create_application, insert_recording, run, start_server, stop_server

HOOK = "https://hooks.example.test/rooms"  # never called: the rows are due only in the fake future


def fake_container(server: Server, clock: FakeClock, **settings: object) -> Container:
    return build_container(Settings(data_dir=server.data_dir, database_url=server.database_url, **settings),
                           clock=clock)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A database of this module's own: expiring "everything due" must not touch other tests' rooms."""
    srv = start_server(request.param, tmp_path_factory.mktemp(f"lifecycle-{request.param}"))
    yield srv
    stop_server(srv)


@pytest.fixture
def clock() -> FakeClock:
    # A day ahead of the wall clock, so the live server's own workers never find these timers due.
    return FakeClock(datetime.now(UTC).replace(microsecond=0) + timedelta(days=1))


async def _room(c: Container, room_id: str) -> t.Room:
    async with c.sessions() as db:
        room = await db.scalar(select(t.Room).where(t.Room.id == room_id))
        assert room is not None
        return room


async def _outbox(c: Container, room_id: str) -> list[t.WebhookDelivery]:
    async with c.sessions() as db:
        q = select(t.WebhookDelivery).where(t.WebhookDelivery.room_id == room_id).order_by(t.WebhookDelivery.id)
        return list((await db.scalars(q)).all())


def test_instant_room_not_joined_expires_after_the_join_window(server: Server, clock: FakeClock,
                                                                tmp_path: Path) -> None:
    app_id, _key = create_application(server, tmp_path)

    async def go() -> None:
        c = fake_container(server, clock)
        try:
            body = CreateRoomIn.model_validate({"display_name": "x", "callback_urls": {"rooms_callback_url": HOOK}})
            room = await do_create_room(c, app_id, body)
            clock.advance(600 - 1)
            assert room.id not in await do_expire_due_rooms(c)
            assert (await _room(c, room.id)).is_available
            clock.advance(1)
            assert room.id in await do_expire_due_rooms(c)
            stored = await _room(c, room.id)
            assert not stored.is_available and stored.expired_at == clock.now() and stored.expiry_due_at is None
            assert room.id not in await do_expire_due_rooms(c)  # once only
            rows = await _outbox(c, room.id)
            assert [r.event for r in rows] == ["room:expired"] and rows[0].target_url == HOOK
            assert rows[0].payload == {
                "event": "room:expired", "room_id": room.id, "room_type": "instant",
                "expires_at": room.expires_at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "created_at": room.created_at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            }
        finally:
            await c.engine.dispose()

    run(go())


def test_long_term_room_expires_at_its_date_and_follows_updates(server: Server, clock: FakeClock,
                                                                 tmp_path: Path) -> None:
    app_id, _key = create_application(server, tmp_path)

    async def go() -> None:
        c = fake_container(server, clock)
        try:
            expires = clock.now() + timedelta(days=2)
            body = CreateRoomIn.model_validate({"display_name": "x", "type": "long_term",
                                                "expires_at": expires.isoformat()})
            room = await do_create_room(c, app_id, body)
            later = clock.now() + timedelta(days=3)
            await do_update_room(c, app_id, room.id,
                                 UpdateRoomIn.model_validate({"update_details": {"expires_at": later.isoformat()}}))
            clock.set(expires + timedelta(hours=1))
            assert room.id not in await do_expire_due_rooms(c)  # the update moved the timer
            clock.set(later)
            assert room.id in await do_expire_due_rooms(c)
        finally:
            await c.engine.dispose()

    run(go())


def test_a_restart_loses_no_timer(server: Server, clock: FakeClock, tmp_path: Path) -> None:
    """The timer lives in the database: a process that never saw the room expires it."""
    app_id, _key = create_application(server, tmp_path)

    async def create() -> str:
        c = fake_container(server, clock)
        try:
            return (await do_create_room(c, app_id, CreateRoomIn(display_name="x"))).id
        finally:
            await c.engine.dispose()

    room_id = run(create())
    clock.advance(601)

    async def after_restart() -> list[str]:
        c = fake_container(server, clock)
        try:
            return await do_expire_due_rooms(c)
        finally:
            await c.engine.dispose()

    assert room_id in run(after_restart())


def test_expired_rooms_are_deleted_after_retention_unless_they_have_recordings(
        server: Server, clock: FakeClock, tmp_path: Path) -> None:
    app_id, _key = create_application(server, tmp_path)

    async def go() -> None:
        c = fake_container(server, clock, expired_room_retention=3600)
        try:
            plain = await do_create_room(c, app_id, CreateRoomIn(display_name="plain"))
            clock.advance(601)
            assert plain.id in await do_expire_due_rooms(c)
            clock.advance(3599)
            assert plain.id not in await do_delete_retained_rooms(c)
            clock.advance(1)
            assert plain.id in await do_delete_retained_rooms(c)
            async with c.sessions() as db:
                assert await db.scalar(select(t.Room).where(t.Room.id == plain.id)) is None
        finally:
            await c.engine.dispose()

    run(go())
    # A room with a recording: expired (insert_recording stores it expired) but kept.
    _session, recording_id = insert_recording(server, app_id)

    async def kept() -> None:
        c = fake_container(server, clock, expired_room_retention=0)
        try:
            async with c.sessions.begin() as db:
                rec = await db.get(t.Recording, recording_id)
                assert rec is not None
                room = await db.scalar(select(t.Room).where(t.Room.id == rec.room_id))
                assert room is not None
                room.expired_at = clock.now() - timedelta(days=1)
                room_id = room.id
            assert room_id not in await do_delete_retained_rooms(c)
        finally:
            await c.engine.dispose()

    run(kept())


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_real_server_expires_a_room_and_calls_back(backend: str, tmp_path: Path, receiver: Receiver) -> None:
    """Wall clock, short window: the live server's lifecycle worker expires the room, the webhook
    worker delivers room:expired, the API and the guest page show it."""
    server = start_server(backend, tmp_path, {
        "MEETKIT_INSTANT_ROOM_JOIN_WINDOW": "2", "MEETKIT_LIFECYCLE_POLL_INTERVAL": "0.2",
        "MEETKIT_ALLOW_PRIVATE_CALLBACK_TARGETS": "true", "MEETKIT_WEBHOOK_POLL_INTERVAL": "0.1",
    })
    try:
        app_id, key = create_application(server, tmp_path / "keys")
        with MeetingsClient(server.base_url, app_id, key, verify=str(server.cert_path)) as client:
            room = client.create_room({"display_name": "soon gone",
                                       "callback_urls": {"rooms_callback_url": receiver.url}})
            assert room["is_available"] is True
            hits = receiver.wait_for(lambda hs: len(hs) >= 1, timeout=20)
            body = json.loads(hits[0].body)
            assert body["event"] == "room:expired" and body["room_id"] == room["id"]

            async def secret() -> str:
                c = build_container(Settings(data_dir=server.data_dir, database_url=server.database_url))
                try:
                    async with c.sessions() as db:
                        app = await db.get(t.Application, app_id)
                        assert app is not None
                        return app.webhook_secret
                finally:
                    await c.engine.dispose()

            headers = hits[0].headers
            assert verify(run(secret()), headers["x-meetkit-timestamp"], hits[0].body, headers["x-meetkit-signature"])
            assert client.get_room(room["id"])["is_available"] is False
            page = httpx.get(room["_links"]["guest_url"]["href"], verify=server.ssl)
            assert page.status_code == 410 and "has ended" in page.text
            resp = client.request("PATCH", f"/rooms/{room['id']}", json={"update_details": {"metadata": "x"}})
            assert resp.status_code in (400, 404)
    finally:
        stop_server(server)
