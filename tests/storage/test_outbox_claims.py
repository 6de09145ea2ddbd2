"""Claims of the webhook outbox when ids and commits disagree (issue 12): an id is given at insert but
the row becomes visible at commit, so a row with an earlier id can appear after its successors were
leased by a worker. A second worker then claims the queue from that row, and must take only it, not
the first worker's rows (three real nodes once sent a row twice this way)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert

from meetkit.actions.applications import do_create_application
from meetkit.app import build_container
from meetkit.config import Settings
from meetkit.container import Container
from meetkit.storage import migrate, outbox
from meetkit.storage import tables as t

from ..support import create_pg_database, drop_pg_database

LEASE = timedelta(seconds=25)


@pytest.fixture(params=["sqlite", "postgresql"])
async def c(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Container]:
    url = (await asyncio.to_thread(create_pg_database) if request.param == "postgresql"
           else f"sqlite+aiosqlite:///{tmp_path / 'm.db'}")
    container = build_container(Settings(data_dir=tmp_path, database_url=url, media_mode="off"))
    await migrate.upgrade(container.engine)
    yield container
    await container.dispose()
    if request.param == "postgresql":
        await asyncio.to_thread(drop_pg_database, url)


async def _add(c: Container, app_id: str, row_id: int) -> None:
    now = c.clock.now()
    async with c.engine.begin() as conn:
        await conn.execute(insert(t.WebhookDelivery).values(
            id=row_id, application_id=app_id, room_id=None, room_metadata=None, event="session:started",
            payload={"n": row_id}, target_url="http://127.0.0.1:9/hook", ordering_key="q",
            idempotency_key=uuid.uuid4().hex, status="pending", attempts=0, next_attempt_at=now,
            queued_at=now, created_at=now, delivered_at=None))


async def _claim(c: Container) -> dict[str, list[outbox.Delivery]]:
    async with c.engine.begin() as conn:
        return await conn.run_sync(outbox.claim_heads, c.clock.now(), LEASE, 10, [])


async def test_a_row_that_appears_before_leased_ones_is_claimed_alone(c: Container) -> None:
    app = await do_create_application(c, "outbox", key_dir=c.settings.data_dir / "keys")
    for row_id in (11, 12, 13):
        await _add(c, app.application_id, row_id)
    first = await _claim(c)
    assert [d.id for d in first["q"]] == [11, 12, 13]
    await _add(c, app.application_id, 10)  # committed late, with an earlier id
    second = await _claim(c)
    assert [d.id for d in second["q"]] == [10]  # not the first worker's 11, 12, 13 again
    assert await _claim(c) == {}
