"""The rate-limit arithmetic (domain/ratelimit.py): bursts, refill, retry-after and the key bound."""

import pytest

from meetkit.domain.ratelimit import KeyedBuckets, TokenBucket


def test_a_bucket_allows_its_burst_then_its_rate() -> None:
    b = TokenBucket(rate=2, burst=3)
    assert [b.take(0.0) for _ in range(4)] == [True, True, True, False]
    assert b.retry_after(0.0) == pytest.approx(0.5)
    assert not b.take(0.4)
    assert b.take(0.5)
    assert not b.full(0.5)
    assert b.full(10.0)  # refills to the burst, never past it
    assert [b.take(10.0) for _ in range(4)] == [True, True, True, False]


def test_time_going_backwards_adds_nothing() -> None:
    b = TokenBucket(rate=1, burst=1, updated=5.0)
    assert b.take(5.0)
    assert not b.take(4.0)


def test_a_bucket_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        TokenBucket(rate=0, burst=1)
    with pytest.raises(ValueError):
        TokenBucket(rate=1, burst=0.5)


def test_keyed_buckets_are_apart_and_bounded() -> None:
    k = KeyedBuckets(rate=1, burst=1, max_keys=2)
    assert k.take("a", 0.0) and not k.take("a", 0.0)
    assert k.take("b", 0.0)
    assert k.retry_after("a", 0.0) == pytest.approx(1.0)
    assert k.take("c", 0.0)  # "a" is the least recently used: forgotten
    assert len(k) == 2
    assert k.retry_after("a", 0.0) == 0.0
