"""The async engine and session factory, configured the same way for SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine


def make_engine(url: str) -> AsyncEngine:
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        # One connection: SQLite has one writer at a time, and queueing in the pool is far cheaper than
        # SQLite's busy-wait back-off (which sleeps up to 100 ms) when writers collide.
        kwargs.update(connect_args={"timeout": 30}, pool_size=1, max_overflow=0, pool_timeout=60,
                      pool_reset_on_return=None)
    else:
        kwargs.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
    # Statement parameters stay out of error messages and logs: they hold names, chat text and tokens.
    engine = create_async_engine(url, hide_parameters=True, **kwargs)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

    return engine


def make_reader_engine(url: str, connections: int) -> AsyncEngine | None:
    """SQLite only: a few read-only connections beside the one writer. In WAL mode a reader never
    waits for the writer (it reads the last commit), so a listing does not queue behind writes and
    writes do not queue behind listings. None for PostgreSQL, whose pool already reads concurrently."""
    if not url.startswith("sqlite"):
        return None
    engine = create_async_engine(url, hide_parameters=True, connect_args={"timeout": 30}, pool_size=connections,
                                 max_overflow=0, pool_timeout=60, pool_reset_on_return=None)

    @event.listens_for(engine.sync_engine, "connect")
    def _reader_pragmas(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA query_only=ON")  # a write through a reader is a bug: fail, never take the lock
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    return engine


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
