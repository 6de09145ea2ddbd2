"""The lifecycle rules (pure): when each kind of room expires."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from meetkit.domain.lifecycle import RoomState, Windows, expiry_time, is_expired
from meetkit.domain.rooms import RoomType

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)

INSTANT = RoomState(type=RoomType.INSTANT, created_at=T0, expires_at=T0 + 10 * MIN, expire_after_use=False,
                    ever_joined=False, session_running=False, last_session_ended_at=None)
LONG = RoomState(type=RoomType.LONG_TERM, created_at=T0, expires_at=T0 + timedelta(days=30),
                 expire_after_use=False, ever_joined=False, session_running=False, last_session_ended_at=None)


def test_instant_room_not_joined_expires_after_join_window() -> None:
    assert expiry_time(INSTANT) == T0 + 10 * MIN
    assert not is_expired(INSTANT, T0 + 10 * MIN - timedelta(seconds=1))
    assert is_expired(INSTANT, T0 + 10 * MIN)


def test_instant_room_lives_while_a_session_runs_and_idles_out_after() -> None:
    running = replace(INSTANT, ever_joined=True, session_running=True)
    assert expiry_time(running) is None
    assert not is_expired(running, T0 + timedelta(days=2))
    ended = replace(running, session_running=False, last_session_ended_at=T0 + 3 * 60 * MIN)
    assert expiry_time(ended) == T0 + 3 * 60 * MIN + 10 * MIN


def test_long_term_room_expires_at_its_date() -> None:
    assert expiry_time(LONG) == LONG.expires_at
    used = replace(LONG, ever_joined=True, last_session_ended_at=T0 + 60 * MIN)
    assert expiry_time(used) == LONG.expires_at  # without expire_after_use a session changes nothing


def test_expire_after_use_takes_the_earlier_time() -> None:
    used = replace(LONG, expire_after_use=True, ever_joined=True, last_session_ended_at=T0 + 60 * MIN)
    assert expiry_time(used) == T0 + 70 * MIN
    running = replace(used, session_running=True)
    assert expiry_time(running) == LONG.expires_at  # the hard limit holds even mid-session
    late = replace(used, last_session_ended_at=LONG.expires_at - 5 * MIN)
    assert expiry_time(late) == LONG.expires_at


def test_windows_are_configurable() -> None:
    w = Windows(join_window=2 * MIN, idle_window=30 * MIN)
    assert expiry_time(INSTANT, w) == T0 + 2 * MIN
    ended = replace(INSTANT, ever_joined=True, last_session_ended_at=T0 + 5 * MIN)
    assert expiry_time(ended, w) == T0 + 35 * MIN
