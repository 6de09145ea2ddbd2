"""Pricing of usage: participant minutes and recording minutes, priced per calendar month with tiers.

Where the default figures come from: the Vonage Meetings API price list as given in issue 4's brief
(participant minutes $0.00475 up to 100,000 a month, $0.0045 for the next 400,000, $0.004 above;
recording minutes $0.025 up to 50,000, $0.02 for the next 250,000, $0.015 above). Vonage's
"Meetings API Technical Details" page (developer.vonage.com/en/meetings/technical-details) has a
Pricing section, but its figures could not be retrieved when this was written, so they are
unverified against it. They do reproduce the published worked examples: one hour with four people is
240 participant minutes = $1.14, recording that hour is 60 minutes = $1.50, $2.64 in all. Operators
override them in configuration (``parse_tiers``).

Rules, and why:
- A participant's minutes are counted per session: the union of their (join, leave) intervals, so
  a rejoin adds only the new time and overlapping intervals (two tabs, a reconnect seen before the
  drop) count once. The total is rounded up to a whole minute (``Rounding.CEIL``), as telecom billing
  rounds each started minute; ``Rounding.EXACT`` keeps fractional minutes (to microsecond input,
  28 significant digits). A recording's minutes are its duration, rounded the same way.
- Usage belongs to the UTC calendar month in which the session or recording ended
  (``billing_month``): minutes are known only then, and a roll-up never has to be revisited.
- Tiers apply to a month's total per application. ``graduated`` (default): each minute is priced
  by the tier it falls in, counted cumulatively through the month. ``volume``: every minute of the
  month is priced at the tier the month's total reaches. ``up_to`` is inclusive: with the
  defaults, minute 100,000 is in the first tier and minute 100,001 in the second. Volume pricing
  has a cliff by design (100,000 minutes cost $475.00, 100,001 cost $450.00).
- Money is ``Decimal`` throughout; rounding to cents (ROUND_HALF_UP) happens only for display, and
  a rounded total is the rounding of the exact sum, not the sum of rounded lines.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_HALF_UP, Context, Decimal, InvalidOperation
from enum import StrEnum
from typing import NoReturn

CENT = Decimal("0.01")
_MICROSECONDS_PER_MINUTE = 60_000_000
_MONTH = re.compile(r"(\d{4})-(\d{2})")


class PricingError(ValueError):
    pass


class TierConfigError(PricingError):
    """Tiers from configuration that cannot be priced; the message names the offending tier."""


class TierMode(StrEnum):
    GRADUATED = "graduated"
    VOLUME = "volume"


class Rounding(StrEnum):
    CEIL = "ceil"
    EXACT = "exact"


@dataclass(frozen=True)
class Tier:
    """Minutes of the month up to ``up_to`` (inclusive; ``None`` = no limit) cost ``price`` each."""

    up_to: int | None
    price: Decimal


DEFAULT_PARTICIPANT_TIERS: tuple[Tier, ...] = (
    Tier(100_000, Decimal("0.00475")),
    Tier(500_000, Decimal("0.0045")),
    Tier(None, Decimal("0.004")),
)
DEFAULT_RECORDING_TIERS: tuple[Tier, ...] = (
    Tier(50_000, Decimal("0.025")),
    Tier(300_000, Decimal("0.02")),
    Tier(None, Decimal("0.015")),
)


def check_tiers(tiers: Sequence[Tier]) -> None:
    """Raise TierConfigError unless tiers ascend strictly, end open-ended and cost >= 0."""
    if not tiers:
        raise TierConfigError("at least one tier is required")
    previous = 0
    for index, tier in enumerate(tiers):
        last = index == len(tiers) - 1
        if not tier.price.is_finite() or tier.price < 0:
            raise TierConfigError(f"tier {index}: price must be a non-negative number, got {tier.price}")
        if tier.up_to is None:
            if not last:
                raise TierConfigError(f"tier {index}: only the last tier may have up_to null")
            continue
        if last:
            raise TierConfigError(f"tier {index}: the last tier must be open-ended (up_to null)")
        if tier.up_to <= previous:
            raise TierConfigError(f"tier {index}: up_to must be greater than {previous}, got {tier.up_to}")
        previous = tier.up_to


@dataclass(frozen=True)
class PriceList:
    participant: tuple[Tier, ...] = DEFAULT_PARTICIPANT_TIERS
    recording: tuple[Tier, ...] = DEFAULT_RECORDING_TIERS
    mode: TierMode = TierMode.GRADUATED

    def __post_init__(self) -> None:
        check_tiers(self.participant)
        check_tiers(self.recording)


DEFAULT_PRICE_LIST = PriceList()


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class TierLine:
    """One tier of a priced month: ``minutes`` of it (range ``above`` < minute <= ``up_to``) at ``unit_price``."""

    above: int
    up_to: int | None
    minutes: Decimal
    unit_price: Decimal
    cost: Decimal

    @property
    def cost_cents(self) -> Decimal:
        return cents(self.cost)


@dataclass(frozen=True)
class Priced:
    minutes: Decimal
    mode: TierMode
    lines: tuple[TierLine, ...]
    total: Decimal

    @property
    def total_cents(self) -> Decimal:
        return cents(self.total)


def price(minutes: int | Decimal, tiers: Sequence[Tier], mode: TierMode = TierMode.GRADUATED) -> Priced:
    """Price a month's total ``minutes``; one line per tier, unused tiers with 0 minutes."""
    check_tiers(tiers)
    total_minutes = Decimal(minutes)
    if not total_minutes.is_finite() or total_minutes < 0:
        raise PricingError(f"minutes must be a non-negative number, got {minutes}")
    lines: list[TierLine] = []
    above = 0
    for tier in tiers:
        in_range = tier.up_to is None or total_minutes <= tier.up_to
        reached = total_minutes > above or above == 0
        if mode is TierMode.GRADUATED:
            top = total_minutes if tier.up_to is None else min(total_minutes, Decimal(tier.up_to))
            used = max(top - above, Decimal(0))
        else:
            used = total_minutes if reached and in_range else Decimal(0)
        lines.append(TierLine(above, tier.up_to, used, tier.price, used * tier.price))
        if tier.up_to is not None:
            above = tier.up_to
    return Priced(total_minutes, mode, tuple(lines), sum((line.cost for line in lines), Decimal(0)))


@dataclass(frozen=True)
class UsageBill:
    participant: Priced
    recording: Priced

    @property
    def total(self) -> Decimal:
        return self.participant.total + self.recording.total

    @property
    def total_cents(self) -> Decimal:
        return cents(self.total)


def bill(
    participant_minutes: int | Decimal,
    recording_minutes: int | Decimal,
    price_list: PriceList = DEFAULT_PRICE_LIST,
) -> UsageBill:
    """Price one application's month: its total participant minutes and total recording minutes."""
    return UsageBill(
        participant=price(participant_minutes, price_list.participant, price_list.mode),
        recording=price(recording_minutes, price_list.recording, price_list.mode),
    )


def _to_minutes(microseconds: int, rounding: Rounding) -> Decimal:
    if rounding is Rounding.CEIL:
        return Decimal(-(-microseconds // _MICROSECONDS_PER_MINUTE))
    return Context(prec=28).divide(Decimal(microseconds), Decimal(_MICROSECONDS_PER_MINUTE))


def participant_minutes(intervals: Iterable[tuple[datetime, datetime]], rounding: Rounding = Rounding.CEIL) -> Decimal:
    """Billable minutes of one participant in one session: the union of their (join, leave) intervals."""
    ordered = sorted(intervals)
    covered = timedelta(0)
    current: tuple[datetime, datetime] | None = None
    for joined, left in ordered:
        if left < joined:
            raise PricingError(f"interval leaves ({left.isoformat()}) before it joins ({joined.isoformat()})")
        if current is not None and joined <= current[1]:
            current = (current[0], max(current[1], left))
            continue
        if current is not None:
            covered += current[1] - current[0]
        current = (joined, left)
    if current is not None:
        covered += current[1] - current[0]
    return _to_minutes(covered // timedelta(microseconds=1), rounding)


def session_participant_minutes(
    intervals_by_participant: Mapping[str, Iterable[tuple[datetime, datetime]]],
    rounding: Rounding = Rounding.CEIL,
) -> Decimal:
    """A session's participant minutes: each participant rounded on their own, then summed."""
    return sum(
        (participant_minutes(intervals, rounding) for intervals in intervals_by_participant.values()),
        Decimal(0),
    )


def recording_minutes(duration_seconds: int | float | Decimal, rounding: Rounding = Rounding.CEIL) -> Decimal:
    """Billable minutes of one recording of ``duration_seconds``."""
    seconds = Decimal(str(duration_seconds)) if isinstance(duration_seconds, float) else Decimal(duration_seconds)
    if not seconds.is_finite() or seconds < 0:
        raise PricingError(f"duration must be a non-negative number of seconds, got {duration_seconds}")
    microseconds = int((seconds * 1_000_000).to_integral_value(rounding=ROUND_CEILING))
    return _to_minutes(microseconds, rounding)


def billing_month(ended_at: datetime) -> str:
    """The ``YYYY-MM`` (UTC) a session or recording ending at ``ended_at`` is billed in."""
    if ended_at.tzinfo is None:
        raise PricingError("ended_at must be timezone-aware")
    return ended_at.astimezone(UTC).strftime("%Y-%m")


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """``YYYY-MM`` -> [start, end) in UTC, for selecting a month's usage."""
    match = _MONTH.fullmatch(month.strip())
    try:
        if match is None:
            raise ValueError(month)
        year, number = int(match[1]), int(match[2])
        start = datetime(year, number, 1, tzinfo=UTC)
        end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=UTC)
    except ValueError as exc:
        raise PricingError(f"month must be YYYY-MM, got {month!r}") from exc
    return start, end


def _reject_constant(name: str) -> NoReturn:
    raise TierConfigError(f"{name} is not a price")


def _tier_price(index: int, value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise TierConfigError(f"tier {index}: price must be a number or a decimal string")
    try:
        amount = Decimal(value.strip() if isinstance(value, str) else value)
    except InvalidOperation as exc:
        raise TierConfigError(f"tier {index}: price {value!r} is not a decimal number") from exc
    return amount


def tiers_from_config(value: object) -> tuple[Tier, ...]:
    """Tiers from decoded configuration: ``[{"up_to": int | null, "price": "0.00475"}, ...]``."""
    if not isinstance(value, list):
        raise TierConfigError("tiers must be a JSON list of {up_to, price} objects")
    tiers: list[Tier] = []
    for index, item in enumerate(value):
        if not isinstance(item, dict) or set(item) != {"up_to", "price"}:
            raise TierConfigError(f"tier {index}: must be an object with exactly the keys up_to and price")
        up_to = item["up_to"]
        if up_to is not None and (isinstance(up_to, bool) or not isinstance(up_to, int) or up_to < 1):
            raise TierConfigError(f"tier {index}: up_to must be a positive whole number of minutes or null")
        tiers.append(Tier(up_to, _tier_price(index, item["price"])))
    check_tiers(tiers)
    return tuple(tiers)


def parse_tiers(text: str) -> tuple[Tier, ...]:
    """Tiers from configuration text (JSON). Numbers are read as exact decimals, never floats."""
    try:
        decoded = json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise TierConfigError(f"tiers are not valid JSON: {exc.msg} at position {exc.pos}") from exc
    return tiers_from_config(decoded)


def parse_mode(text: str) -> TierMode:
    try:
        return TierMode(text.strip().lower())
    except ValueError as exc:
        modes = ", ".join(mode.value for mode in TierMode)
        raise TierConfigError(f"tier mode must be one of {modes}, got {text!r}") from exc
