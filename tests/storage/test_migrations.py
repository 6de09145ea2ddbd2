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


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_short_url_case_clashes_are_resolved_by_migration_0010(backend: str, tmp_path: Path) -> None:
    """Themes from before 0010 whose short URLs differ only in case: the oldest keeps its value, the
    later one loses it, and the case-insensitive unique index is then in place (issue 10)."""
    from datetime import UTC, datetime

    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    url = create_pg_database() if backend == "postgresql" else f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"

    async def go() -> list[Any]:
        engine = make_engine(url)
        try:
            await migrate.upgrade(engine, "0007")
            async with engine.begin() as conn:
                await conn.execute(text(
                    "INSERT INTO applications (id, name, account_id, public_key_pem, webhook_secret, created_at) "
                    "VALUES ('a', 'a', 'a', 'k', 's', :created)"), {"created": datetime(2026, 1, 1, tzinfo=UTC)})
                for theme_id, short, day in (("t1", "XSS-CO", 1), ("t2", "xss-co", 2), ("t3", "other", 3)):
                    await conn.execute(text(
                        "INSERT INTO themes (id, application_id, theme_name, main_color, brand_text, "
                        "short_company_url, created_at) VALUES (:id, 'a', :id, '#fff', 'x', :short, :created)"),
                        {"id": theme_id, "short": short, "created": datetime(2026, 1, day, tzinfo=UTC)})
            await migrate.upgrade(engine)
            async with engine.connect() as conn:
                rows = (await conn.execute(text("SELECT id, short_company_url FROM themes ORDER BY id"))).all()
            with pytest.raises(IntegrityError):
                async with engine.begin() as conn:
                    await conn.execute(text("UPDATE themes SET short_company_url = 'OTHER' WHERE id = 't1'"))
            return [tuple(r) for r in rows]
        finally:
            await engine.dispose()

    try:
        assert run(go()) == [("t1", "XSS-CO"), ("t2", None), ("t3", "other")]
    finally:
        if backend == "postgresql":
            drop_pg_database(url)
