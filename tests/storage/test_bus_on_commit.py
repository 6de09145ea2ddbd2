"""Room events leave only after their transaction commits (``publish_on_commit``), on SQLite and
PostgreSQL: nothing before the commit, nothing for a transaction that rolled back; and the room actions
announce what they changed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from meetkit.actions.applications import do_create_application, generate_key_pair
from meetkit.actions.inputs import CreateRoomIn, UpdateRoomIn
from meetkit.actions.lifecycle import do_expire_due_rooms
from meetkit.actions.rooms import do_create_room, do_delete_room, do_update_room
from meetkit.app import build_container
from meetkit.bus import InProcessBus, RoomEnded, RoomEvent, RoomUpdated, publish_on_commit
from meetkit.clock import FakeClock
from meetkit.config import Settings
from meetkit.container import Container
from meetkit.errors import NotFound
from meetkit.storage import migrate
from meetkit.storage import tables as t

from ..support import create_pg_database, drop_pg_database, run


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database of this module's own: expiring "everything due" must not touch other tests' rooms."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('bus')}/bus.db"
        return
    url = create_pg_database()
    yield url
    drop_pg_database(url)


class Heard:
    """A subscriber that keeps what it hears."""

    def __init__(self, bus: InProcessBus) -> None:
        self.events: list[RoomEvent] = []
        bus.subscribe(self)

    async def __call__(self, event: RoomEvent) -> None:
        self.events.append(event)


async def _container(database_url: str, folder: Path, clock: FakeClock) -> tuple[Container, InProcessBus, str]:
    c = build_container(Settings(data_dir=folder / "data", database_url=database_url), clock=clock)
    await migrate.upgrade(c.engine)
    assert isinstance(c.bus, InProcessBus)
    made = await do_create_application(c, "bus", public_key_pem=generate_key_pair()[1])
    return c, c.bus, made.application_id


def test_an_event_leaves_after_the_commit_and_never_after_a_rollback(database_url: str, tmp_path: Path) -> None:
    async def go() -> None:
        c, bus, app_id = await _container(database_url, tmp_path, FakeClock(datetime.now(UTC)))
        heard = Heard(bus)
        try:
            async with c.sessions.begin() as db:
                await db.execute(update(t.Application).where(t.Application.id == app_id).values(name="renamed"))
                publish_on_commit(db, bus, RoomUpdated("committed"))
                await bus.drain()
                assert heard.events == []  # not before the commit
            await bus.drain()
            assert heard.events == [RoomUpdated("committed")]

            with pytest.raises(RuntimeError):
                async with c.sessions.begin() as db:
                    await db.execute(update(t.Application).where(t.Application.id == app_id).values(name="no"))
                    publish_on_commit(db, bus, RoomEnded("rolled-back", "deleted"))
                    raise RuntimeError("the change fails")
            # A savepoint that rolls back leaves the events of the transaction around it.
            async with c.sessions.begin() as db:
                publish_on_commit(db, bus, RoomUpdated("around-a-savepoint"))
                with pytest.raises(RuntimeError):
                    async with db.begin_nested():
                        await db.execute(update(t.Application).where(t.Application.id == app_id).values(name="x"))
                        raise RuntimeError("the savepoint fails")
            await bus.drain()
            assert heard.events == [RoomUpdated("committed"), RoomUpdated("around-a-savepoint")]
            # A session that rolls back, then commits other work, announces only the committed work.
            async with c.sessions() as db:
                publish_on_commit(db, bus, RoomEnded("rolled-back-too", "expired"))
                await db.rollback()
                await db.execute(update(t.Application).where(t.Application.id == app_id).values(name="later"))
                publish_on_commit(db, bus, RoomUpdated("after-the-rollback"))
                await db.commit()
            await bus.drain()
            assert heard.events[2:] == [RoomUpdated("after-the-rollback")]
            async with c.sessions() as db:
                app = await db.get(t.Application, app_id)
                assert app is not None and app.name == "later"
        finally:
            await c.engine.dispose()

    run(go())


def test_room_actions_announce_updates_deletions_and_expiries(database_url: str, tmp_path: Path) -> None:
    # A day ahead of the wall clock: no other process's timers are due in this fake future.
    clock = FakeClock(datetime.now(UTC).replace(microsecond=0) + timedelta(days=1))

    async def go() -> None:
        c, bus, app_id = await _container(database_url, tmp_path, clock)
        heard = Heard(bus)
        try:
            long_term = {"display_name": "updated", "type": "long_term",
                         "expires_at": (clock.now() + timedelta(days=2)).isoformat()}
            updated = await do_create_room(c, app_id, CreateRoomIn.model_validate(long_term))
            deleted = await do_create_room(c, app_id, CreateRoomIn(display_name="deleted"))
            expired = await do_create_room(c, app_id, CreateRoomIn(display_name="expired"))
            await bus.drain()
            assert heard.events == []  # creating a room concerns no meeting

            change = UpdateRoomIn.model_validate({"update_details": {"join_approval_level": "explicit_approval"}})
            await do_update_room(c, app_id, updated.id, change)
            with pytest.raises(NotFound):
                await do_update_room(c, app_id, "00000000-0000-0000-0000-000000000000", change)
            await do_delete_room(c, app_id, deleted.id)
            await bus.drain()
            assert heard.events == [RoomUpdated(updated.id), RoomEnded(deleted.id, "deleted")]

            clock.advance(601)  # past the instant room's join window
            assert expired.id in await do_expire_due_rooms(c)
            await bus.drain()
            assert heard.events[2:] == [RoomEnded(expired.id, "expired")]
        finally:
            await c.engine.dispose()

    run(go())
