"""Usage metering and the monthly usage report. See docs/pricing.md.

Metering turns durable rows into stored usage: each participant row of an ended session (one join of
one person) and each finished recording becomes one ``usage_items`` row, and its application's
``usage_monthly`` row (UTC month of the session's or recording's end) grows by the same amounts, in the
transaction that marks the session or recording metered. So a crash loses nothing and a second run
meters nothing twice: what was marked was stored, what was not is picked up again, and
``(kind, subject_id)`` is unique besides.

The usage worker (``worker/usage.py``) meters whatever has ended; the report meters the month it is
asked about first, so a session that has ended is in the report at once."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ..config import Settings
from ..container import Container
from ..domain import pricing
from ..domain.recordings import METERED
from ..errors import InputValidationError
from ..storage import tables as t

PARTICIPANT = "participant"
RECORDING = "recording"
# A recording's minutes are known once it has stopped; paused time is inside started_at..ended_at.
METERED_RECORDING_STATUSES = METERED

_BATCH = 100
_STORED = Decimal("0.000001")  # storage/types.Minutes keeps six decimal places
_ITEMS = t.Base.metadata.tables["usage_items"]
_MONTHLY = t.Base.metadata.tables["usage_monthly"]


def price_list(settings: Settings) -> pricing.PriceList:
    """The configured tiers and mode (config.py has checked them at start-up)."""
    participant = settings.pricing_participant_tiers
    recording = settings.pricing_recording_tiers
    return pricing.PriceList(
        participant=pricing.parse_tiers(participant) if participant is not None else pricing.DEFAULT_PARTICIPANT_TIERS,
        recording=pricing.parse_tiers(recording) if recording is not None else pricing.DEFAULT_RECORDING_TIERS,
        mode=pricing.parse_mode(settings.pricing_mode),
    )


def _stored(minutes: Decimal) -> Decimal:
    return minutes.quantize(_STORED, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Metered:
    """What one metering pass did: sessions and recordings claimed, participant items stored."""

    sessions: int = 0
    participants: int = 0
    recordings: int = 0

    def __add__(self, other: Metered) -> Metered:
        return Metered(self.sessions + other.sessions, self.participants + other.participants,
                       self.recordings + other.recordings)

    def __bool__(self) -> bool:
        return bool(self.sessions or self.participants or self.recordings)


def _pending(c: Container, query: Select[Any], ended_at: Any, ended_between: tuple[datetime, datetime] | None,
             limit: int) -> Select[Any]:
    if ended_between is not None:
        query = query.where(ended_at >= ended_between[0], ended_at < ended_between[1])
    query = query.order_by(ended_at).limit(limit)
    if c.engine.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)  # several meetkit processes share the work
    return query


async def do_meter_sessions(c: Container, limit: int = _BATCH, *, application_id: str | None = None,
                            ended_between: tuple[datetime, datetime] | None = None) -> Metered:
    """Meter up to ``limit`` ended sessions: one usage item per participant row, in one transaction.

    The claim is an ``UPDATE … RETURNING`` of the marker, so on SQLite the transaction holds the write
    lock before it reads, and on PostgreSQL rows another process is metering are skipped."""
    now = c.clock.now()
    rounding = pricing.Rounding(c.settings.pricing_rounding)
    S = t.Session
    candidates = select(S.id).where(S.ended_at.is_not(None), S.usage_metered_at.is_(None))
    if application_id is not None:
        candidates = candidates.where(S.application_id == application_id)
    candidates = _pending(c, candidates, S.ended_at, ended_between, limit)
    claim = (update(S).where(S.id.in_(candidates.scalar_subquery()), S.usage_metered_at.is_(None))
             .values(usage_metered_at=now).returning(S.id, S.application_id, S.ended_at)
             .execution_options(synchronize_session=False))
    async with c.sessions.begin() as db:
        claimed = {row.id: (row.application_id, row.ended_at) for row in (await db.execute(claim)).all()}
        if not claimed:
            return Metered()
        participants = (await db.scalars(select(t.Participant).where(
            t.Participant.session_id.in_(list(claimed))))).all()
        items: list[dict[str, Any]] = []
        for p in participants:
            application, ended_at = claimed[p.session_id]
            # Rows still open when their session ended were closed by it (do_end_session closes them all).
            left = max(p.left_at or ended_at, p.joined_at)
            minutes = pricing.participant_minutes([(p.joined_at, left)], rounding)
            items.append(_item(application, PARTICIPANT, p.id, p.session_id, minutes, ended_at, now))
        stored = await _store(c, db, items, now)
    return Metered(sessions=len(claimed), participants=stored)


async def do_meter_recordings(c: Container, limit: int = _BATCH, *, application_id: str | None = None,
                              ended_between: tuple[datetime, datetime] | None = None) -> Metered:
    """Meter up to ``limit`` stopped or uploaded recordings: one usage item each, in one transaction."""
    now = c.clock.now()
    rounding = pricing.Rounding(c.settings.pricing_rounding)
    R = t.Recording
    candidates = select(R.id).where(R.ended_at.is_not(None), R.usage_metered_at.is_(None),
                                    R.status.in_(METERED_RECORDING_STATUSES))
    if application_id is not None:
        candidates = candidates.where(R.application_id == application_id)
    candidates = _pending(c, candidates, R.ended_at, ended_between, limit)
    claim = (update(R).where(R.id.in_(candidates.scalar_subquery()), R.usage_metered_at.is_(None))
             .values(usage_metered_at=now)
             .returning(R.id, R.application_id, R.session_id, R.started_at, R.ended_at)
             .execution_options(synchronize_session=False))
    async with c.sessions.begin() as db:
        items: list[dict[str, Any]] = []
        for row in (await db.execute(claim)).all():
            duration = max(row.ended_at - row.started_at, timedelta(0)) // timedelta(microseconds=1)
            minutes = pricing.recording_minutes(Decimal(duration) / 1_000_000, rounding)
            items.append(_item(row.application_id, RECORDING, row.id, row.session_id, minutes, row.ended_at, now))
        if items:
            await _store(c, db, items, now)
    return Metered(recordings=len(items))


async def do_meter_pending(c: Container, *, application_id: str | None = None,
                           ended_between: tuple[datetime, datetime] | None = None,
                           limit: int = _BATCH) -> Metered:
    """Meter everything ended and not metered yet (of one application, ended in one period), batch by batch."""
    total = Metered()
    for meter in (do_meter_sessions, do_meter_recordings):
        while True:
            done = await meter(c, limit, application_id=application_id, ended_between=ended_between)
            total += done
            if done.sessions + done.recordings < limit:
                break
    return total


def _item(application_id: str, kind: str, subject_id: str, session_id: str, minutes: Decimal,
          ended_at: datetime, now: datetime) -> dict[str, Any]:
    return {"application_id": application_id, "month": pricing.billing_month(ended_at), "kind": kind,
            "subject_id": subject_id, "session_id": session_id, "micro_minutes": _stored(minutes),
            "ended_at": ended_at, "metered_at": now}


async def _store(c: Container, db: AsyncSession, items: Sequence[dict[str, Any]], now: datetime) -> int:
    """Insert the items (an item stored before is skipped) and add what was new to the monthly rows.
    Returns how many were new. A session counts in its month when its first participant item is stored."""
    insert = sqlite_insert if c.engine.dialect.name == "sqlite" else pg_insert
    deltas: defaultdict[tuple[str, str], dict[str, Any]] = defaultdict(
        lambda: {"sessions": 0, "participants": 0, "participant_micro_minutes": Decimal(0), "recordings": 0,
                 "recording_micro_minutes": Decimal(0)})
    stmt = (insert(_ITEMS).on_conflict_do_nothing(index_elements=["kind", "subject_id"])
            .returning(_ITEMS.c.application_id, _ITEMS.c.month, _ITEMS.c.kind, _ITEMS.c.session_id,
                       _ITEMS.c.micro_minutes))
    new = (await db.execute(stmt, list(items))).all() if items else []
    sessions: set[str] = set()
    for row in new:
        delta = deltas[(row.application_id, row.month)]
        if row.kind == PARTICIPANT:
            delta["participants"] += 1
            delta["participant_micro_minutes"] += row.micro_minutes
            if row.session_id not in sessions:
                sessions.add(row.session_id)
                delta["sessions"] += 1
        else:
            delta["recordings"] += 1
            delta["recording_micro_minutes"] += row.micro_minutes
    # In key order, so two processes adding to the same months lock their rows in the same order.
    for (application_id, month), delta in sorted(deltas.items()):
        up = insert(_MONTHLY).values(application_id=application_id, month=month, updated_at=now, **delta)
        up = up.on_conflict_do_update(
            index_elements=["application_id", "month"],
            set_={**{name: _MONTHLY.c[name] + up.excluded[name] for name in delta},
                  "updated_at": up.excluded.updated_at},
        )
        await db.execute(up)
    return len(new)


# --- the report ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KindUsage:
    count: int
    priced: pricing.Priced

    @property
    def minutes(self) -> Decimal:
        return self.priced.minutes


@dataclass(frozen=True)
class UsageReport:
    application_id: str
    month: str
    start: datetime
    end: datetime
    currency: str
    mode: pricing.TierMode
    rounding: pricing.Rounding
    sessions: int
    participants: KindUsage
    recordings: KindUsage
    updated_at: datetime | None

    @property
    def total(self) -> Decimal:
        return self.participants.priced.total + self.recordings.priced.total

    @property
    def total_cents(self) -> Decimal:
        return pricing.cents(self.total)


def parse_month(c: Container, month: str | None) -> tuple[str, datetime, datetime]:
    """``YYYY-MM`` (default: the clock's current UTC month) -> (canonical month, start, end)."""
    try:
        start, end = pricing.month_bounds(month if month is not None else pricing.billing_month(c.clock.now()))
    except pricing.PricingError as exc:
        raise InputValidationError(str(exc), [str(exc)]) from exc
    return start.strftime("%Y-%m"), start, end


async def usage_for_month(c: Container, application_id: str, month: str | None = None) -> UsageReport:
    """One application's usage in one UTC month, priced with the configured tiers."""
    month, start, end = parse_month(c, month)
    await do_meter_pending(c, application_id=application_id, ended_between=(start, end))
    async with c.sessions() as db:
        row = await db.get(t.UsageMonthly, (application_id, month))
    prices = price_list(c.settings)
    bill = pricing.bill(row.participant_minutes if row else 0, row.recording_minutes if row else 0, prices)
    return UsageReport(
        application_id=application_id, month=month, start=start, end=end, currency=c.settings.pricing_currency,
        mode=prices.mode, rounding=pricing.Rounding(c.settings.pricing_rounding),
        sessions=row.sessions if row else 0,
        participants=KindUsage(row.participants if row else 0, bill.participant),
        recordings=KindUsage(row.recordings if row else 0, bill.recording),
        updated_at=row.updated_at if row else None,
    )


async def applications_with_usage(c: Container, month: str | None = None) -> list[str]:
    """The applications that have usage in ``month`` (all pending usage of that month metered first)."""
    month, start, end = parse_month(c, month)
    await do_meter_pending(c, ended_between=(start, end))
    async with c.sessions() as db:
        ids = await db.scalars(select(t.UsageMonthly.application_id).where(t.UsageMonthly.month == month)
                               .order_by(t.UsageMonthly.application_id))
        return list(ids)
