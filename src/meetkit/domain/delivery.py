"""A webhook delivery's states and its retry policy, without I/O: what an attempt's outcome makes of a
delivery (delivered, failed, dead, or pending again after a capped exponential backoff with jitter).

The worker (worker/webhooks.py) asks ``next_state`` after every attempt and stores what it says; the
values of ``DeliveryStatus`` are the ones stored in ``webhook_deliveries.status``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

MAX_ERROR = 300  # characters of ``last_error`` kept


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # waiting for its first attempt or a retry
    DELIVERED = "delivered"  # a 2xx was received
    FAILED = "failed"  # refused without trying (a private target, not http/https); not retried
    DEAD = "dead"  # retried for the whole retry period without success


# Status changes. A failed attempt that will be retried is no change: the delivery stays pending.
# Replay (``do_replay_delivery``) is the way back from every final state.
TRANSITIONS: dict[DeliveryStatus, frozenset[DeliveryStatus]] = {
    DeliveryStatus.PENDING: frozenset({DeliveryStatus.DELIVERED, DeliveryStatus.FAILED, DeliveryStatus.DEAD}),
    DeliveryStatus.DELIVERED: frozenset({DeliveryStatus.PENDING}),
    DeliveryStatus.FAILED: frozenset({DeliveryStatus.PENDING}),
    DeliveryStatus.DEAD: frozenset({DeliveryStatus.PENDING}),
}


def can_move(current: str, new: DeliveryStatus) -> bool:
    try:
        return new in TRANSITIONS[DeliveryStatus(current)]
    except ValueError:
        return False


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to."""

    ok: bool
    error: str | None = None
    refused: bool = False  # the target may not be called at all: not retried


@dataclass(frozen=True)
class RetryPolicy:
    initial_backoff: float  # seconds before the first retry (before jitter)
    max_backoff: float  # the longest wait between two attempts
    retry_period: float  # seconds after queueing; then the next failure makes the delivery dead


@dataclass(frozen=True)
class NextState:
    """A delivery after an attempt: its new column values, and whether its target's next delivery may go
    (only once this one is final: a retry holds back the rest of the target's queue)."""

    status: DeliveryStatus
    attempts: int
    last_error: str | None
    delivered_at: datetime | None = None
    next_attempt_at: datetime | None = None  # when it is retried; only for a pending one

    @property
    def final(self) -> bool:
        return self.status is not DeliveryStatus.PENDING


def backoff(attempts: int, initial: float, cap: float, jitter: float) -> float:
    """Seconds before the retry that follows attempt ``attempts`` (1 for the first): ``d = min(cap,
    initial * 2^(attempts-1))``, half of it fixed and half scaled by ``jitter`` (0..1, a random draw), so
    receivers that failed together are not all retried together."""
    delay = min(cap, initial * 2.0 ** max(0, min(attempts - 1, 30)))
    return delay / 2 + jitter * (delay / 2)


def next_state(status: str, attempts: int, queued_at: datetime, outcome: Outcome, now: datetime,
               policy: RetryPolicy, jitter: float) -> NextState:
    """What ``outcome`` makes of a pending delivery that had ``attempts`` attempts before this one and was
    queued at ``queued_at``. The last retry is scheduled no later than the end of the retry period."""
    if DeliveryStatus(status) is not DeliveryStatus.PENDING:
        raise ValueError(f"only a pending delivery is attempted, not a {status} one")
    attempts += 1
    if outcome.ok:
        return NextState(DeliveryStatus.DELIVERED, attempts, None, delivered_at=now)
    if outcome.refused:
        return NextState(DeliveryStatus.FAILED, attempts, (outcome.error or "")[:MAX_ERROR])
    error = (outcome.error or "failed")[:MAX_ERROR]
    deadline = queued_at + timedelta(seconds=policy.retry_period)
    if now >= deadline:
        return NextState(DeliveryStatus.DEAD, attempts, error)
    delay = backoff(attempts, policy.initial_backoff, policy.max_backoff, jitter)
    return NextState(DeliveryStatus.PENDING, attempts, error, next_attempt_at=min(now + timedelta(seconds=delay),
                                                                                  deadline))
