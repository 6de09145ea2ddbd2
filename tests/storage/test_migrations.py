"""The migrations build exactly the schema of storage/tables.py, on both databases."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from meetkit.storage import migrate
from meetkit.storage import tables as t
from meetkit.storage.db import make_engine

from ..support import create_pg_database, drop_pg_database, run


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migrations_match_the_tables(backend: str, tmp_path: Path) -> None:
    url = create_pg_database() if backend == "postgresql" else f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"

    def diff(conn: Any) -> list[Any]:
        return list(compare_metadata(MigrationContext.configure(conn), t.Base.metadata))

    async def go() -> list[Any]:
        engine = make_engine(url)
        try:
            await migrate.upgrade(engine)
            async with engine.connect() as conn:
                return await conn.run_sync(diff)
        finally:
            await engine.dispose()

    try:
        assert run(go()) == []
    finally:
        if backend == "postgresql":
            drop_pg_database(url)
