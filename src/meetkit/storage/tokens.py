"""The ledger of JWT ids already used, so that a token cannot be replayed.

Every authenticated request claims its token id before it proceeds. Claims that arrive while the
ledger is writing wait for the next write and go in together (group commit): one transaction and one
multi-row ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` for many requests, instead of one transaction
each. The answer to each claim is still exact: it is known only once the row is durable."""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine

from ..clock import Clock
from . import tables as t

log = logging.getLogger("meetkit.tokens")

_MAX_BATCH = 500
_CLEANUP_CHANCE = 0.01  # per write: expired ids are deleted now and then, not on a timer


class TokenLedger:
    def __init__(self, engine: AsyncEngine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock
        insert = sqlite_insert if engine.dialect.name == "sqlite" else pg_insert
        table = t.Base.metadata.tables["used_tokens"]
        # Prepared once, executed with parameters: a statement built from literal values would be
        # re-keyed for the statement cache on every write.
        self._stmt = insert(table).on_conflict_do_nothing().returning(table.c.jti)
        self._pending: list[tuple[str, datetime, asyncio.Future[bool]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def claim(self, key: str, expires_at: datetime) -> bool:
        """Record ``key``; True the first time, False on every later claim (a replay)."""
        fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append((key, expires_at, fut))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_all())
        return await fut

    async def _write_all(self) -> None:
        await asyncio.sleep(0)  # let the claims of this loop iteration join the batch
        while self._pending:
            batch, self._pending = self._pending[:_MAX_BATCH], self._pending[_MAX_BATCH:]
            try:
                fresh = await self._write(batch)
            except Exception as exc:  # fail closed: these requests end in an error, never in a pass
                log.exception("could not record token ids")
                for _key, _exp, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            seen: set[str] = set()
            for key, _exp, fut in batch:
                first = key in fresh and key not in seen
                seen.add(key)
                if not fut.done():
                    fut.set_result(first)

    async def _write(self, batch: list[tuple[str, datetime, asyncio.Future[bool]]]) -> set[str]:
        rows: dict[str, datetime] = {}
        for key, exp, _fut in batch:
            rows.setdefault(key, exp)
        params = [{"jti": k, "expires_at": e} for k, e in rows.items()]
        async with self._engine.begin() as conn:
            fresh = set((await conn.execute(self._stmt, params)).scalars())
            if random.random() < _CLEANUP_CHANCE:
                await conn.execute(delete(t.UsedToken).where(t.UsedToken.expires_at < self._clock.now()))
        return fresh
