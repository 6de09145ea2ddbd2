"""The webhook outbox's statements for the delivery worker: claim (lease) the heads of target queues,
store a round of outcomes in one statement each, give leased rows back.

One queue per target URL (``ordering_key``), in ``id`` order. Only the head of a queue (its lowest
pending id) makes the queue claimable, and a claim leases the rows by moving their ``next_attempt_at``
ahead: so a queue is served by one worker at a time and its rows never go out of order, even with
several meetkit processes on one PostgreSQL database (the head is locked ``FOR UPDATE SKIP LOCKED``
until the lease commits). The functions taking a ``Connection`` run inside the caller's transaction
(``conn.run_sync``), so a round's outcomes and its next claims commit together."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, literal_column, select, union_all, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.selectable import Alias

from ..domain.delivery import DeliveryStatus, NextState
from . import tables as t

BATCH = 50  # rows of one target claimed at once

_D = t.Base.metadata.tables["webhook_deliveries"]
_A = t.Base.metadata.tables["applications"]
_PENDING = DeliveryStatus.PENDING.value


class _PendingByTarget(Alias):
    """``webhook_deliveries`` read through its partial index ``(ordering_key, id) WHERE status = 'pending'``:
    a target's pending rows in id order, without touching the table. PostgreSQL picks the index from its
    statistics; SQLite has none (no ANALYZE) and would walk ``(status, id)`` and read every pending row
    of every target, so it is told which index to use."""

    inherit_cache = True


@compiles(_PendingByTarget)
def _render_pending_by_target(element: _PendingByTarget, compiler: SQLCompiler, **kw: Any) -> str:
    text: str = compiler.visit_alias(element, **kw)  # type: ignore[no-untyped-call]
    if compiler.dialect.name == "sqlite" and kw.get("asfrom") and not kw.get("ashint"):
        text += " INDEXED BY ix_webhook_pending_target"
    return text


_P = _PendingByTarget._construct(_D, name="p")
# The index's condition as a literal: a bound parameter would not prove that the partial index applies.
_IS_PENDING = _P.c.status == literal_column(f"'{_PENDING}'")

# An outcome, written only while the row is still pending (a replay or another worker may have moved on).
# Executed with a list of parameter sets: one statement for the whole group commit.
_FINISH = update(_D).where(_D.c.id == bindparam("b_id"), _D.c.status == _PENDING).values(
    status=bindparam("b_status", type_=_D.c.status.type),
    attempts=bindparam("b_attempts", type_=_D.c.attempts.type),
    delivered_at=bindparam("b_delivered_at", type_=_D.c.delivered_at.type),
    last_error=bindparam("b_error", type_=_D.c.last_error.type))
_RETRY = update(_D).where(_D.c.id == bindparam("b_id"), _D.c.status == _PENDING).values(
    attempts=bindparam("b_attempts", type_=_D.c.attempts.type),
    next_attempt_at=bindparam("b_when", type_=_D.c.next_attempt_at.type),
    last_error=bindparam("b_error", type_=_D.c.last_error.type))


@dataclass
class Delivery:
    """A claimed outbox row, as the worker holds it while it is leased."""

    id: int
    event: str
    payload: dict[str, Any]
    target_url: str
    ordering_key: str
    idempotency_key: str
    attempts: int
    queued_at: datetime
    room_metadata: str | None
    leased_until: datetime  # this worker's lease on the row: its next_attempt_at
    secret: str = field(repr=False)


def claim_heads(conn: Connection, now: datetime, lease: timedelta, max_targets: int,
                busy: Collection[str]) -> dict[str, list[Delivery]]:
    """Lease up to ``max_targets`` queues whose head is due and which are not ``busy`` (served by this
    worker already), with up to ``BATCH`` rows each."""
    first = select(func.min(_P.c.id)).where(_IS_PENDING).group_by(_P.c.ordering_key)
    if busy:
        first = first.where(_P.c.ordering_key.not_in(list(busy)))
    keys = list(conn.execute(
        select(_D.c.ordering_key)
        .where(_D.c.id.in_(first), _D.c.status == _PENDING, _D.c.next_attempt_at <= now)
        .order_by(_D.c.id)
        .limit(max_targets)
    ).scalars())
    return claim_queues(conn, now, lease, keys) if keys else {}


def claim_queues(conn: Connection, now: datetime, lease: timedelta, keys: list[str]) -> dict[str, list[Delivery]]:
    """Lease these queues (which this worker serves) from their heads on, those whose head is due."""
    d = _D
    # Each queue from its head on: one index range per queue.
    parts = [select(_P.c.id).where(_P.c.ordering_key == key, _IS_PENDING).order_by(_P.c.id).limit(BATCH)
             .subquery() for key in keys]
    ids = union_all(*(select(part.c.id) for part in parts)) if len(parts) > 1 else select(parts[0].c.id)
    queues: dict[str, list[Any]] = {}  # the rows of each queue, as read
    for r in conn.execute(
        select(d.c.id, d.c.event, d.c.payload, d.c.target_url, d.c.ordering_key, d.c.idempotency_key,
               d.c.attempts, d.c.queued_at, d.c.room_metadata, d.c.next_attempt_at, _A.c.webhook_secret)
        .join(_A, _A.c.id == d.c.application_id)
        .where(d.c.id.in_(ids))
        .order_by(d.c.id)
    ):
        queues.setdefault(r.ordering_key, []).append(r)
    heads = [rows[0].id for rows in queues.values() if rows[0].next_attempt_at <= now]
    if heads and conn.dialect.name == "postgresql":  # a head another worker is leasing right now is left to it
        heads = list(conn.execute(
            select(d.c.id).where(d.c.id.in_(heads), d.c.status == _PENDING, d.c.next_attempt_at <= now)
            .with_for_update(skip_locked=True)
        ).scalars())
    # Of each queue, the rows due from its head on. A row behind them may be another worker's already:
    # ids are given at insert but rows become visible at commit, so an earlier id can appear after its
    # successors were leased, and its queue is due again from that row (issue 12's three-node test
    # caught one row sent twice this way).
    taken = [_due_prefix(rows, now) for rows in queues.values() if rows[0].id in heads]
    if not taken:
        return {}
    lease_until = now + lease
    # Leased only while still pending and due: a row another worker leased meanwhile is not taken
    # (PostgreSQL re-checks the condition on the row's newest version once the other's lock is gone).
    leased = set(conn.execute(
        update(d).where(d.c.id.in_([r.id for rows in taken for r in rows]), d.c.status == _PENDING,
                        d.c.next_attempt_at <= now)
        .values(next_attempt_at=lease_until).returning(d.c.id)).scalars())
    taken = [rows for rows in (_leased_prefix(rows, leased) for rows in taken) if rows]
    stranded = leased - {r.id for rows in taken for r in rows}
    if stranded:  # leased behind another worker's row: due again at once, not after this lease
        conn.execute(update(d).where(d.c.id.in_(stranded)).values(next_attempt_at=now))
    return {rows[0].ordering_key: [Delivery(
        id=r.id, event=r.event, payload=r.payload, target_url=r.target_url, ordering_key=r.ordering_key,
        idempotency_key=r.idempotency_key, attempts=r.attempts, queued_at=r.queued_at,
        room_metadata=r.room_metadata, leased_until=lease_until, secret=r.webhook_secret) for r in rows]
        for rows in taken}


def _due_prefix(rows: list[Any], now: datetime) -> list[Any]:
    for i, r in enumerate(rows):
        if r.next_attempt_at > now:
            return rows[:i]
    return rows


def _leased_prefix(rows: list[Any], leased: set[int]) -> list[Any]:
    """The rows up to the first one this claim did not lease: the queue's order is kept, and what
    follows a row of another worker's is left to that worker."""
    for i, r in enumerate(rows):
        if r.id not in leased:
            return rows[:i]
    return rows


def store_outcomes(conn: Connection, outcomes: list[tuple[int, NextState]]) -> None:
    """The rows' states after their attempts: one statement for the final ones, one for the retries."""
    finished = [{"b_id": row_id, "b_status": s.status.value, "b_attempts": s.attempts,
                 "b_delivered_at": s.delivered_at, "b_error": s.last_error}
                for row_id, s in outcomes if s.final]
    retried = [{"b_id": row_id, "b_attempts": s.attempts, "b_when": s.next_attempt_at, "b_error": s.last_error}
               for row_id, s in outcomes if not s.final]
    if finished:
        conn.execute(_FINISH, finished)
    if retried:
        conn.execute(_RETRY, retried)


async def set_due(engine: AsyncEngine, ids: list[int], when: datetime) -> None:
    """Moves the lease (or the retry timer) of these rows, while they are still pending: ``when`` now
    gives leased rows that were not attempted back to their queue."""
    async with engine.begin() as conn:
        await conn.execute(update(_D).where(_D.c.id.in_(ids), _D.c.status == _PENDING)
                           .values(next_attempt_at=when))
