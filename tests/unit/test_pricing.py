"""Pricing of usage: the worked examples, tier boundaries, interval rounding, configuration parsing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from random import Random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meetkit.domain.pricing import (
    DEFAULT_PARTICIPANT_TIERS,
    DEFAULT_PRICE_LIST,
    DEFAULT_RECORDING_TIERS,
    PriceList,
    PricingError,
    Rounding,
    Tier,
    TierConfigError,
    TierMode,
    bill,
    billing_month,
    cents,
    month_bounds,
    parse_mode,
    parse_tiers,
    participant_minutes,
    price,
    recording_minutes,
    session_participant_minutes,
)

T0 = datetime(2024, 3, 5, 14, 0, tzinfo=UTC)
GRADUATED, VOLUME = TierMode.GRADUATED, TierMode.VOLUME


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


# --- the worked examples -------------------------------------------------------------------------


def test_one_hour_four_people_recorded_costs_2_64() -> None:
    session = {name: [(at(0), at(3600))] for name in ("ana", "ben", "chloe", "dev")}
    people = session_participant_minutes(session)
    recorded = recording_minutes(3600)
    assert people == 240
    assert recorded == 60

    usage = bill(people, recorded)
    assert usage.participant.total_cents == Decimal("1.14")
    assert usage.recording.total_cents == Decimal("1.50")
    assert usage.total_cents == Decimal("2.64")
    assert usage.participant.total == Decimal("1.14000")  # exact, not rounded


def test_worked_examples_are_the_same_in_volume_mode() -> None:
    usage = bill(240, 60, PriceList(mode=VOLUME))
    assert usage.total_cents == Decimal("2.64")


# --- tier boundaries -----------------------------------------------------------------------------


def test_up_to_is_inclusive_in_both_modes() -> None:
    for mode in TierMode:
        priced = price(100_000, DEFAULT_PARTICIPANT_TIERS, mode)
        assert [line.minutes for line in priced.lines] == [100_000, 0, 0]
        assert priced.total_cents == Decimal("475.00")


def test_one_minute_over_the_first_tier() -> None:
    graduated = price(100_001, DEFAULT_PARTICIPANT_TIERS, GRADUATED)
    assert [line.minutes for line in graduated.lines] == [100_000, 1, 0]
    assert graduated.total == Decimal("475.0045")
    assert graduated.total_cents == Decimal("475.00")

    volume = price(100_001, DEFAULT_PARTICIPANT_TIERS, VOLUME)
    assert [line.minutes for line in volume.lines] == [0, 100_001, 0]
    assert volume.total == Decimal("450.0045")  # the volume cliff: more minutes, lower bill


def test_a_month_crossing_every_tier() -> None:
    graduated = price(600_000, DEFAULT_PARTICIPANT_TIERS, GRADUATED)
    assert [(line.above, line.up_to, int(line.minutes)) for line in graduated.lines] == [
        (0, 100_000, 100_000),
        (100_000, 500_000, 400_000),
        (500_000, None, 100_000),
    ]
    assert [line.cost_cents for line in graduated.lines] == [Decimal("475.00"), Decimal("1800.00"), Decimal("400.00")]
    assert graduated.total_cents == Decimal("2675.00")
    assert price(600_000, DEFAULT_PARTICIPANT_TIERS, VOLUME).total_cents == Decimal("2400.00")


def test_recording_tiers() -> None:
    assert price(50_001, DEFAULT_RECORDING_TIERS).total == Decimal("1250.02")
    assert price(300_001, DEFAULT_RECORDING_TIERS).total == Decimal("6250.015")
    assert price(300_001, DEFAULT_RECORDING_TIERS, VOLUME).total == Decimal("4500.015")


def test_zero_minutes_cost_nothing() -> None:
    for mode in TierMode:
        priced = price(0, DEFAULT_PARTICIPANT_TIERS, mode)
        assert priced.total == 0
        assert len(priced.lines) == 3


def test_fractional_minutes_from_exact_rounding_are_priced() -> None:
    assert price(Decimal("0.5"), DEFAULT_RECORDING_TIERS).total == Decimal("0.0125")
    assert price(Decimal("50000.5"), DEFAULT_RECORDING_TIERS, VOLUME).lines[1].minutes == Decimal("50000.5")


def test_cents_round_half_up() -> None:
    assert cents(Decimal("0.005")) == Decimal("0.01")
    assert cents(Decimal("0.00475")) == Decimal("0.00")
    assert cents(Decimal("2.675")) == Decimal("2.68")


def test_negative_minutes_are_refused() -> None:
    with pytest.raises(PricingError):
        price(-1, DEFAULT_PARTICIPANT_TIERS)


# --- minutes from intervals ----------------------------------------------------------------------


def test_a_started_minute_is_billed_whole() -> None:
    assert participant_minutes([(at(0), at(1))]) == 1
    assert participant_minutes([(at(0), at(60))]) == 1
    assert participant_minutes([(at(0), at(60.000001))]) == 2
    assert participant_minutes([(at(0), at(90))], Rounding.EXACT) == Decimal("1.5")


def test_rejoin_within_a_session_is_rounded_once() -> None:
    # 30 s, drop, 30 s: one minute, not two.
    assert participant_minutes([(at(0), at(30)), (at(100), at(130))]) == 1


def test_zero_length_intervals_cost_nothing() -> None:
    assert participant_minutes([(at(10), at(10))]) == 0
    assert participant_minutes([]) == 0
    assert participant_minutes([(at(0), at(60)), (at(500), at(500))]) == 1


def test_overlapping_intervals_of_the_same_participant_count_once() -> None:
    overlapping = [(at(0), at(600)), (at(300), at(900)), (at(100), at(200))]
    assert participant_minutes(overlapping) == 15
    touching = [(at(0), at(60)), (at(60), at(120))]
    assert participant_minutes(touching) == 2


def test_each_participant_is_rounded_separately() -> None:
    session = {"a": [(at(0), at(30))], "b": [(at(0), at(30))]}
    assert session_participant_minutes(session) == 2
    assert session_participant_minutes(session, Rounding.EXACT) == 1


def test_leaving_before_joining_is_refused() -> None:
    with pytest.raises(PricingError):
        participant_minutes([(at(10), at(0))])


def test_recording_minutes() -> None:
    assert recording_minutes(0) == 0
    assert recording_minutes(59.5) == 1
    assert recording_minutes(Decimal("60.000001")) == 2
    assert recording_minutes(90, Rounding.EXACT) == Decimal("1.5")
    with pytest.raises(PricingError):
        recording_minutes(-1)


# --- months --------------------------------------------------------------------------------------


def test_usage_is_billed_in_the_utc_month_it_ended() -> None:
    assert billing_month(datetime(2024, 3, 31, 23, 30, tzinfo=UTC)) == "2024-03"
    assert billing_month(datetime(2024, 4, 1, 0, 0, tzinfo=UTC)) == "2024-04"
    # 1 April 01:30 in Paris is still 31 March in UTC.
    paris = timezone(timedelta(hours=2))
    assert billing_month(datetime(2024, 4, 1, 1, 30, tzinfo=paris)) == "2024-03"
    with pytest.raises(PricingError):
        billing_month(datetime(2024, 3, 1))


def test_month_bounds() -> None:
    assert month_bounds("2024-02") == (datetime(2024, 2, 1, tzinfo=UTC), datetime(2024, 3, 1, tzinfo=UTC))
    assert month_bounds("2024-12")[1] == datetime(2025, 1, 1, tzinfo=UTC)
    for bad in ("2024-13", "2024-00", "2024-1", "24-01", "", "9999-12", "2024-01-01"):
        with pytest.raises(PricingError):
            month_bounds(bad)


# --- configuration -------------------------------------------------------------------------------


def test_parse_tiers_reads_exact_decimals() -> None:
    tiers = parse_tiers('[{"up_to": 100000, "price": "0.00475"}, {"up_to": null, "price": 0.004}]')
    assert tiers == (Tier(100_000, Decimal("0.00475")), Tier(None, Decimal("0.004")))
    assert parse_tiers('[{"up_to": null, "price": 0}]') == (Tier(None, Decimal(0)),)


def test_default_tiers_round_trip_through_configuration() -> None:
    text = """
        [{"up_to": 100000, "price": "0.00475"},
         {"up_to": 500000, "price": "0.0045"},
         {"up_to": null, "price": "0.004"}]
    """
    assert parse_tiers(text) == DEFAULT_PARTICIPANT_TIERS


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "not valid JSON"),
        ('{"up_to": null, "price": "1"}', "JSON list"),
        ("[]", "at least one tier"),
        ('[{"up_to": 10, "price": "1"}]', "last tier must be open-ended"),
        ('[{"up_to": null, "price": "1"}, {"up_to": null, "price": "1"}]', "only the last tier"),
        (
            '[{"up_to": 10, "price": "1"}, {"up_to": 10, "price": "1"}, {"up_to": null, "price": "1"}]',
            "greater than 10",
        ),
        (
            '[{"up_to": 20, "price": "1"}, {"up_to": 10, "price": "1"}, {"up_to": null, "price": "1"}]',
            "greater than 20",
        ),
        ('[{"up_to": null, "price": "-0.01"}]', "non-negative"),
        ('[{"up_to": null, "price": "NaN"}]', "non-negative"),
        ('[{"up_to": null, "price": NaN}]', "not a price"),
        ('[{"up_to": null, "price": "cheap"}]', "not a decimal"),
        ('[{"up_to": null, "price": true}]', "price must be"),
        ('[{"up_to": null}]', "exactly the keys"),
        ('[{"up_to": null, "price": "1", "currency": "EUR"}]', "exactly the keys"),
        ('[{"up_to": 0, "price": "1"}, {"up_to": null, "price": "1"}]', "positive whole number"),
        ('[{"up_to": 1.5, "price": "1"}, {"up_to": null, "price": "1"}]', "positive whole number"),
        ('[{"up_to": "10", "price": "1"}, {"up_to": null, "price": "1"}]', "positive whole number"),
    ],
)
def test_parse_tiers_errors(text: str, message: str) -> None:
    with pytest.raises(TierConfigError, match=message):
        parse_tiers(text)


def test_price_lists_and_price_refuse_bad_tiers() -> None:
    with pytest.raises(TierConfigError):
        PriceList(participant=(Tier(10, Decimal(1)),))
    with pytest.raises(TierConfigError):
        price(5, [Tier(None, Decimal(-1))])


def test_parse_mode() -> None:
    assert parse_mode(" Volume ") is VOLUME
    assert parse_mode("graduated") is GRADUATED
    assert DEFAULT_PRICE_LIST.mode is GRADUATED
    with pytest.raises(TierConfigError, match="graduated, volume"):
        parse_mode("tiered")


# --- properties ----------------------------------------------------------------------------------

minutes = st.integers(min_value=0, max_value=2_000_000)
prices = st.decimals(min_value=0, max_value=1, places=5, allow_nan=False, allow_infinity=False)


@st.composite
def tier_lists(draw: st.DrawFn, descending: bool = False) -> tuple[Tier, ...]:
    bounds = sorted(draw(st.sets(st.integers(min_value=1, max_value=1_000_000), max_size=4)))
    amounts = draw(st.lists(prices, min_size=len(bounds) + 1, max_size=len(bounds) + 1))
    if descending:
        amounts.sort(reverse=True)
    return (*(Tier(b, p) for b, p in zip(bounds, amounts, strict=False)), Tier(None, amounts[-1]))


@given(tier_lists(), minutes, minutes)
def test_graduated_total_never_decreases_with_more_minutes(tiers: tuple[Tier, ...], a: int, b: int) -> None:
    low, high = sorted((a, b))
    assert price(low, tiers).total <= price(high, tiers).total


@given(tier_lists(), minutes, st.sampled_from(list(TierMode)))
def test_lines_add_up(tiers: tuple[Tier, ...], total: int, mode: TierMode) -> None:
    priced = price(total, tiers, mode)
    assert sum(line.minutes for line in priced.lines) == total
    assert sum(line.cost for line in priced.lines) == priced.total
    assert all(line.minutes * line.unit_price == line.cost for line in priced.lines)


@given(tier_lists(descending=True), minutes)
def test_with_falling_prices_volume_le_graduated_le_first_tier(tiers: tuple[Tier, ...], total: int) -> None:
    graduated = price(total, tiers, GRADUATED).total
    assert price(total, tiers, VOLUME).total <= graduated <= total * tiers[0].price


@given(minutes, minutes)
def test_graduated_month_is_the_sum_of_its_increments(a: int, b: int) -> None:
    # Pricing cumulatively through the month: the next b minutes cost price(a + b) - price(a),
    # and that lies between the cheapest and dearest tier's rate.
    step = price(a + b, DEFAULT_PARTICIPANT_TIERS).total - price(a, DEFAULT_PARTICIPANT_TIERS).total
    assert b * Decimal("0.004") <= step <= b * Decimal("0.00475")


intervals = st.lists(
    st.tuples(st.integers(min_value=0, max_value=7200), st.integers(min_value=0, max_value=3600)).map(
        lambda pair: (at(pair[0]), at(pair[0] + pair[1]))
    ),
    max_size=6,
)


@given(intervals, st.randoms(use_true_random=False))
def test_interval_minutes_ignore_order_and_duplicates(spans: list[tuple[datetime, datetime]], rnd: Random) -> None:
    shuffled = spans * 2
    rnd.shuffle(shuffled)
    assert participant_minutes(shuffled) == participant_minutes(spans)


@given(intervals)
def test_ceil_is_exact_rounded_up(spans: list[tuple[datetime, datetime]]) -> None:
    exact = participant_minutes(spans, Rounding.EXACT)
    ceil = participant_minutes(spans)
    assert ceil - 1 < exact <= ceil
    assert ceil == int(ceil)
    longest = max((left - joined for joined, left in spans), default=timedelta(0))
    assert exact >= Decimal(longest // timedelta(microseconds=1)) / 60_000_000
