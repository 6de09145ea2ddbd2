"""The pure rules of webhook delivery and recordings (domain/delivery.py, domain/recordings.py): backoff,
what an attempt's outcome makes of a delivery, and which status changes exist. No I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from meetkit.domain.delivery import (
    MAX_ERROR,
    TRANSITIONS,
    DeliveryStatus,
    NextState,
    Outcome,
    RetryPolicy,
    backoff,
    can_move,
    next_state,
)
from meetkit.domain.recordings import DELETABLE, RecordingStatus, RecordingTransitionError, move
from meetkit.domain.recordings import can_move as recording_can_move

QUEUED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
POLICY = RetryPolicy(initial_backoff=1.0, max_backoff=300.0, retry_period=86400.0)


def test_backoff_doubles_from_the_initial_delay_up_to_the_cap_half_of_it_jittered() -> None:
    # jitter 0 gives the fixed half, jitter 1 the whole delay.
    assert [backoff(n, 1.0, 300.0, jitter=1.0) for n in range(1, 11)] == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300]
    assert [backoff(n, 1.0, 300.0, jitter=0.0) for n in (1, 2, 9, 10)] == [0.5, 1, 128, 150]
    assert backoff(3, 1.0, 300.0, jitter=0.5) == 3.0
    # Attempt 0 (never tried) waits like attempt 1; a huge count neither overflows nor passes the cap.
    assert backoff(0, 2.0, 300.0, jitter=1.0) == 2.0
    assert backoff(10**6, 1.0, 300.0, jitter=1.0) == 300.0


def test_a_2xx_delivers_and_lets_the_targets_next_go() -> None:
    now = QUEUED + timedelta(seconds=5)
    state = next_state("pending", 2, QUEUED, Outcome(ok=True), now, POLICY, jitter=0.3)
    assert state == NextState(DeliveryStatus.DELIVERED, attempts=3, last_error=None, delivered_at=now)
    assert state.final


def test_a_refused_target_fails_at_once_and_is_not_retried() -> None:
    outcome = Outcome(ok=False, error="refused: x" * 100, refused=True)
    state = next_state("pending", 0, QUEUED, outcome, QUEUED, POLICY, jitter=0.3)
    assert state.status is DeliveryStatus.FAILED and state.final and state.next_attempt_at is None
    assert state.attempts == 1 and state.last_error == ("refused: x" * 100)[:MAX_ERROR]


def test_a_failure_is_retried_after_the_backoff_and_holds_the_queue() -> None:
    now = QUEUED + timedelta(seconds=10)
    state = next_state("pending", 3, QUEUED, Outcome(ok=False, error="HTTP 500"), now, POLICY, jitter=1.0)
    assert state == NextState(DeliveryStatus.PENDING, attempts=4, last_error="HTTP 500",
                              next_attempt_at=now + timedelta(seconds=8))
    assert not state.final
    # An error without a text still says something.
    assert next_state("pending", 0, QUEUED, Outcome(ok=False), now, POLICY, jitter=0).last_error == "failed"


def test_the_last_retry_is_due_at_the_end_of_the_retry_period_then_the_delivery_is_dead() -> None:
    end = QUEUED + timedelta(seconds=POLICY.retry_period)
    near_end = end - timedelta(seconds=10)
    retry = next_state("pending", 20, QUEUED, Outcome(ok=False, error="ConnectError"), near_end, POLICY, jitter=1)
    assert retry.status is DeliveryStatus.PENDING and retry.next_attempt_at == end
    dead = next_state("pending", 21, QUEUED, Outcome(ok=False, error="ConnectError"), end, POLICY, jitter=1)
    assert dead == NextState(DeliveryStatus.DEAD, attempts=22, last_error="ConnectError")
    assert dead.final


def test_only_a_pending_delivery_is_attempted() -> None:
    for status in ("delivered", "failed", "dead"):
        with pytest.raises(ValueError, match="only a pending delivery"):
            next_state(status, 1, QUEUED, Outcome(ok=True), QUEUED, POLICY, jitter=0)


def test_delivery_transitions_pending_to_a_final_state_and_replay_back() -> None:
    final = {DeliveryStatus.DELIVERED, DeliveryStatus.FAILED, DeliveryStatus.DEAD}
    assert TRANSITIONS[DeliveryStatus.PENDING] == final
    for status in final:
        assert TRANSITIONS[status] == {DeliveryStatus.PENDING}  # replay
        assert can_move(status.value, DeliveryStatus.PENDING)
        assert not can_move("pending", DeliveryStatus.PENDING)  # a pending delivery is not replayed
        assert not can_move(status.value, DeliveryStatus.DELIVERED)
    assert not can_move("unknown", DeliveryStatus.PENDING)
    # The stored values are the ones the outbox has always had (no migration).
    assert [s.value for s in DeliveryStatus] == ["pending", "delivered", "failed", "dead"]


def test_recording_moves_started_stopped_then_uploaded_or_failed() -> None:
    assert [s.value for s in RecordingStatus] == ["started", "stopped", "uploaded", "failed"]
    assert move("started", RecordingStatus.STOPPED) is RecordingStatus.STOPPED
    assert move("stopped", RecordingStatus.UPLOADED) is RecordingStatus.UPLOADED
    assert move("stopped", RecordingStatus.FAILED) is RecordingStatus.FAILED
    for current, new in [("started", RecordingStatus.UPLOADED), ("uploaded", RecordingStatus.STOPPED),
                         ("failed", RecordingStatus.UPLOADED), ("stopped", RecordingStatus.STARTED),
                         ("paused", RecordingStatus.STOPPED)]:
        assert not recording_can_move(current, new)
        with pytest.raises(RecordingTransitionError):
            move(current, new)
    assert DELETABLE == {RecordingStatus.UPLOADED, RecordingStatus.FAILED}
