"""One watchdog for what the media plane must keep up: meetkit's Janus process and the connection to
a Janus.

A :class:`Watchdog` is given two coroutines of the thing it guards: ``start`` (bring it up, or raise)
and ``wait_down`` (return when it went down). It starts the thing, waits for it to go down, restarts it
after a capped exponential :class:`Backoff` slept on the injected clock (so a test moves time with
``FakeClock.advance`` instead of sleeping), then awaits its ``on_restart`` callbacks. ``stop()`` ends
the watching wherever it is: waiting, backing off or mid-restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ..clock import Clock

log = logging.getLogger("meetkit.media.watchdog")

RestartCallback = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class Backoff:
    """How long to wait before each restart attempt: pure, so it is tested without waiting.

    Attempts are counted from the last time the thing stayed up for ``stable_after`` seconds: a thing
    that keeps dying waits longer each time (``initial`` doubling up to ``cap``), one that ran a while
    starts again from ``initial``. With ``at_once`` the first attempt does not wait at all (a dropped
    connection is often back at once: Janus was only restarted).
    """

    initial: float
    cap: float
    stable_after: float = 0.0
    at_once: bool = False

    def delay(self, attempt: int) -> float:
        """Seconds to wait before attempt ``attempt`` (0 = the first after going down)."""
        if self.at_once:
            if attempt == 0:
                return 0.0
            attempt -= 1
        # The exponent is bounded so that a thing failing for days does not overflow a float.
        return min(self.initial * 2.0 ** min(attempt, 64), self.cap)

    def attempts_after(self, attempts: int, uptime: float) -> int:
        """The attempt count to go on from when the thing went down after ``uptime`` seconds up."""
        return 0 if uptime >= self.stable_after else attempts


class Watchdog:
    """Keeps one thing up: ``start()`` it, restart it whenever ``wait_down()`` returns, until ``stop()``."""

    def __init__(
        self,
        name: str,
        start: Callable[[], Awaitable[None]],
        wait_down: Callable[[], Awaitable[None]],
        *,
        clock: Clock,
        backoff: Backoff,
    ) -> None:
        self.name = name
        self._start = start
        self._wait_down = wait_down
        self._clock = clock
        self.backoff = backoff
        self._callbacks: list[RestartCallback] = []
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.restarts = 0
        """Successful restarts since this watchdog was made."""

    @property
    def task(self) -> asyncio.Task[None] | None:
        """The watching task while it runs."""
        return self._task

    def on_restart(self, callback: RestartCallback) -> None:
        """Await ``callback()`` after every restart, in the order registered. Failures are logged and
        the others still run."""
        self._callbacks.append(callback)

    async def start(self) -> None:
        """Start the thing (its failure is raised: the first start is the caller's to handle), then watch."""
        self._stopping = False
        await self._start()
        self._task = asyncio.create_task(self._watch(), name=f"watchdog: {self.name}")

    async def stop(self) -> None:
        """Stop watching (the thing itself is its owner's to stop). Idempotent."""
        self._stopping = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _watch(self) -> None:
        attempts = 0
        while not self._stopping:
            up_since = self._clock.now()
            await self._wait_down()
            if self._stopping:
                return
            uptime = (self._clock.now() - up_since).total_seconds()
            attempts = self.backoff.attempts_after(attempts, uptime)
            attempts = await self._restart(attempts)
            self.restarts += 1
            await self._restarted()

    async def _restart(self, attempts: int) -> int:
        """Retry ``start`` with backoff until it succeeds; returns the attempts made so far."""
        while True:
            delay = self.backoff.delay(attempts)
            attempts += 1
            if delay > 0:
                log.info("restarting %s in %.1f s", self.name, delay)
                await self._clock.sleep(delay)
            try:
                await self._start()
                return attempts
            except Exception as exc:
                log.warning("restarting %s failed (%s)", self.name, exc)

    async def _restarted(self) -> None:
        for callback in list(self._callbacks):
            try:
                await callback()
            except Exception:
                log.exception("a restart callback of %s failed", self.name)
