"""The media watchdog on a FakeClock: restarts after a failure, backoff growth and cap, the reset after a
stable run, stopping in every state. Nothing sleeps real time: the clock is moved.

The supervised thing is a fake standing where a process or a connection would be (the process boundary);
the real Janus process and connection under the same watchdog are tests/media/test_media_janus.py's."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
import pytest_asyncio

from meetkit.clock import FakeClock
from meetkit.media.watchdog import Backoff, Watchdog


class Thing:
    """Goes down when told; refuses to start ``refusals`` times first."""

    def __init__(self) -> None:
        self.starts = 0
        self.refusals = 0
        self.waiting = False
        self._down = asyncio.Event()

    async def start(self) -> None:
        self.starts += 1
        if self.refusals:
            self.refusals -= 1
            raise RuntimeError("not reachable yet")
        self._down = asyncio.Event()

    async def wait_down(self) -> None:
        self.waiting = True
        try:
            await self._down.wait()
        finally:
            self.waiting = False

    def crash(self) -> None:
        self._down.set()


class SleepLog(FakeClock):
    """A FakeClock that also records how long each sleeper asked to sleep."""

    def __init__(self) -> None:
        super().__init__()
        self.slept: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        await super().sleep(seconds)


async def until(predicate: Callable[[], bool]) -> None:
    """Let the event loop run until ``predicate()`` holds (bounded: the test fails, it never hangs)."""
    async with asyncio.timeout(2):
        while not predicate():
            await asyncio.sleep(0)


async def until_equal(get: Callable[[], object], value: object) -> None:
    await until(lambda: get() == value)


@pytest.fixture
def clock() -> SleepLog:
    return SleepLog()


@pytest.fixture
def thing() -> Thing:
    return Thing()


@pytest_asyncio.fixture
async def watchdog(clock: SleepLog, thing: Thing) -> AsyncIterator[Watchdog]:
    dog = Watchdog("thing", thing.start, thing.wait_down, clock=clock,
                   backoff=Backoff(initial=0.5, cap=4.0, stable_after=60.0))
    yield dog
    await dog.stop()
    assert clock.pending() == 0, "a stopped watchdog left a timer behind"


# -- the pure backoff -------------------------------------------------------------------------------


def test_backoff_doubles_up_to_its_cap() -> None:
    backoff = Backoff(initial=0.5, cap=30.0)
    assert [backoff.delay(n) for n in range(8)] == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert backoff.delay(10_000) == 30.0  # no float overflow after days of failures


def test_backoff_at_once_tries_first_without_waiting() -> None:
    backoff = Backoff(initial=0.2, cap=5.0, at_once=True)
    assert [backoff.delay(n) for n in range(7)] == [0.0, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0]


def test_backoff_counts_again_after_a_stable_run_only() -> None:
    backoff = Backoff(initial=0.5, cap=30.0, stable_after=60.0)
    assert backoff.attempts_after(4, uptime=59.0) == 4
    assert backoff.attempts_after(4, uptime=60.0) == 0
    assert Backoff(initial=0.2, cap=5.0).attempts_after(4, uptime=0.0) == 0  # stable_after 0: every loss afresh


# -- the watchdog -----------------------------------------------------------------------------------


async def test_a_thing_that_goes_down_is_restarted_after_the_backoff(
    watchdog: Watchdog, thing: Thing, clock: SleepLog
) -> None:
    restarted: list[int] = []

    async def on_up() -> None:
        restarted.append(thing.starts)

    watchdog.on_restart(on_up)
    await watchdog.start()
    assert thing.starts == 1 and watchdog.restarts == 0
    await until(lambda: thing.waiting)
    thing.crash()
    await until(lambda: clock.pending() == 1)
    assert clock.slept == [0.5] and thing.starts == 1
    clock.advance(0.4)
    await asyncio.sleep(0)
    assert thing.starts == 1  # still backing off
    clock.advance(0.1)
    await until(lambda: watchdog.restarts == 1)
    assert thing.starts == 2 and restarted == [2]
    await until(lambda: thing.waiting)  # watching again


async def test_backoff_grows_while_starts_fail_and_stops_at_the_cap(
    watchdog: Watchdog, thing: Thing, clock: SleepLog
) -> None:
    await watchdog.start()
    await until(lambda: thing.waiting)
    thing.refusals = 5
    thing.crash()
    for n in range(6):
        await until_equal(lambda: (len(clock.slept), clock.pending()), (n + 1, 1))
        clock.advance(clock.slept[-1])
    await until(lambda: watchdog.restarts == 1)
    assert clock.slept == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert thing.starts == 7  # the first start, five refused, one that came up

    # Down again soon after: the count goes on (a thing that keeps dying waits longer) ...
    await until(lambda: thing.waiting)
    clock.advance(10)
    thing.crash()
    await until(lambda: len(clock.slept) == 7)
    assert clock.slept[-1] == 4.0
    clock.advance(4.0)
    await until(lambda: watchdog.restarts == 2)

    # ... but after a stable run it starts from the beginning.
    await until(lambda: thing.waiting)
    clock.advance(60)
    thing.crash()
    await until(lambda: len(clock.slept) == 8)
    assert clock.slept[-1] == 0.5


async def test_at_once_reconnects_without_a_timer(thing: Thing, clock: SleepLog) -> None:
    dog = Watchdog("connection", thing.start, thing.wait_down, clock=clock,
                   backoff=Backoff(initial=0.2, cap=5.0, at_once=True))
    await dog.start()
    try:
        await until(lambda: thing.waiting)
        thing.crash()
        await until(lambda: dog.restarts == 1)
        assert clock.slept == [] and thing.starts == 2
    finally:
        await dog.stop()


async def test_stop_during_backoff_cancels_the_wait(watchdog: Watchdog, thing: Thing, clock: SleepLog) -> None:
    await watchdog.start()
    await until(lambda: thing.waiting)
    thing.crash()
    await until(lambda: clock.pending() == 1)
    await watchdog.stop()
    assert watchdog.task is None and clock.pending() == 0
    clock.advance(100)
    await asyncio.sleep(0)
    assert thing.starts == 1 and watchdog.restarts == 0


async def test_stop_while_up_ends_the_watching(watchdog: Watchdog, thing: Thing) -> None:
    await watchdog.start()
    await until(lambda: thing.waiting)
    await watchdog.stop()
    assert not thing.waiting and watchdog.task is None
    await watchdog.stop()  # idempotent


async def test_a_first_start_that_fails_is_raised_and_nothing_is_watched(
    watchdog: Watchdog, thing: Thing, clock: SleepLog
) -> None:
    thing.refusals = 1
    with pytest.raises(RuntimeError, match="not reachable"):
        await watchdog.start()
    assert watchdog.task is None and clock.pending() == 0


async def test_callbacks_run_in_order_and_a_failing_one_does_not_stop_the_others(
    watchdog: Watchdog, thing: Thing, clock: SleepLog
) -> None:
    heard: list[str] = []

    async def first() -> None:
        heard.append("first")

    async def broken() -> None:
        raise RuntimeError("a failing callback must not stop the others")

    async def last() -> None:
        heard.append("last")

    for callback in (first, broken, last):
        watchdog.on_restart(callback)
    await watchdog.start()
    await until(lambda: thing.waiting)
    thing.crash()
    await until(lambda: clock.pending() == 1)
    clock.advance(0.5)
    await until(lambda: heard == ["first", "last"])
    assert watchdog.restarts == 1


async def test_an_hour_of_crashes_passes_on_the_fake_clock(thing: Thing, clock: SleepLog) -> None:
    """An hour of backoff at the 30 s cap: each step is bounded (``until``) far below what a real sleep
    would take, so this passes only if the watchdog waits on the injected clock."""
    dog = Watchdog("thing", thing.start, thing.wait_down, clock=clock,
                   backoff=Backoff(initial=0.5, cap=30.0, stable_after=60.0))
    await dog.start()
    try:
        for n in range(1, 121):
            await until(lambda: thing.waiting)
            thing.crash()
            await until(lambda: clock.pending() == 1)
            clock.advance(clock.slept[-1])
            await until_equal(lambda: dog.restarts, n)
    finally:
        await dog.stop()
    assert sum(clock.slept) == 0.5 + 1 + 2 + 4 + 8 + 16 + 30 * 114
