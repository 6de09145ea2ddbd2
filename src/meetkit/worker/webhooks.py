"""The webhook delivery worker: the loop that claims due outbox rows, sends them and stores the outcomes.

Its parts, each in its own home (Synapse's appservice scheduler / api / store split):
- storage/outbox.py: the statements (claim and lease a target queue's head, store outcomes, give back);
- worker/webhook_http.py: the HTTP/1.1 client, one kept-alive connection per target;
- worker/webhook_targets.py: which targets may be called, and the address to connect to;
- domain/delivery.py: the retry policy (``backoff``, ``next_state``) and ``DeliveryStatus``.

One queue per target URL: a target's rows go out one at a time, in order, and targets are served
concurrently (at most ``webhook_concurrency`` at once), so a slow or failing target delays no one else.
A claim leases the rows: if the process dies mid-delivery they stay ``pending`` and are sent again once
the lease runs out. Delivery is at least once; receivers de-duplicate by ``X-Meetkit-Idempotency-Key``.

A target's next row is sent only once the outcome of the one before is committed. The outcomes of all
targets that arrive while a transaction is being written go in together in the next one (group commit),
and when a target's leased rows run out, that same transaction leases its next ones; so the database
sees about one transaction per round of deliveries, not two per delivery."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import random
import ssl
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.engine import Connection

from ..actions.webhooks import doorbell
from ..container import Container
from ..domain.delivery import DeliveryStatus, NextState, Outcome, RetryPolicy, next_state
from ..domain.webhooks import encode_metadata, sign
from ..storage import outbox
from ..storage.outbox import Delivery
from .webhook_http import HTTPFailure, Outbound
from .webhook_targets import Refused, pin, safe_target

# Where the callers of the worker found these before it was split.
__all__ = ["Delivery", "Outcome", "WebhookWorker"]

log = logging.getLogger("meetkit.webhooks")

_MAX_WRITES = 500  # outcomes stored in one transaction


@dataclass
class _Write:
    id: int
    claim_next: str | None  # the row's ordering key, when its target's next rows are to be leased
    state: NextState
    done: asyncio.Future[list[Delivery]]


class WebhookWorker:
    def __init__(self, c: Container, *, tls: ssl.SSLContext | None = None) -> None:
        self._c = c
        s = c.settings
        self._timeout = s.webhook_timeout
        self._lease = timedelta(seconds=2 * s.webhook_timeout + 5)
        self._http = Outbound(max_idle=2 * s.webhook_concurrency, tls=tls)
        self._wake = asyncio.Event()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._writes: list[_Write] = []  # outcomes waiting for the next group commit
        self._writer: asyncio.Task[None] | None = None

    def nudge(self) -> None:
        self._wake.set()

    def close(self) -> None:
        """Close the idle connections to targets (``run`` does when it ends)."""
        self._http.close()

    async def run(self) -> None:
        """Deliver until cancelled."""
        loop = asyncio.get_running_loop()

        def ring() -> None:  # may be rung from another thread's commit
            loop.call_soon_threadsafe(self._wake.set)

        unsubscribe = doorbell.subscribe(ring)
        try:
            while True:
                self._wake.clear()
                free = self._c.settings.webhook_concurrency - len(self._tasks)
                claimed: dict[str, list[Delivery]] = {}
                if free > 0:
                    try:
                        claimed = await self.claim(free)
                    except Exception:
                        log.exception("could not claim webhook deliveries")
                for key, rows in claimed.items():
                    self._start(key, rows)
                if claimed and len(self._tasks) < self._c.settings.webhook_concurrency:
                    continue
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._c.settings.webhook_poll_interval):
                        await self._wake.wait()
        finally:
            unsubscribe()
            tasks = list(self._tasks.values())
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            writer = self._writer
            if writer is not None and not writer.done():  # outcomes already known are stored, not resent
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    async with asyncio.timeout(self._timeout):
                        await asyncio.shield(writer)
            self.close()

    def _start(self, key: str, rows: list[Delivery]) -> None:
        task = asyncio.create_task(self._deliver_target(rows))
        self._tasks[key] = task
        task.add_done_callback(functools.partial(self._finished, key))

    def _finished(self, key: str, task: asyncio.Task[None]) -> None:
        self._tasks.pop(key, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("webhook delivery task failed", exc_info=task.exception())
        self._wake.set()

    # -- claiming ---------------------------------------------------------------------------------

    async def claim(self, max_targets: int) -> dict[str, list[Delivery]]:
        """Lease the heads of up to ``max_targets`` due target queues that no task of this worker is
        serving, with up to ``outbox.BATCH`` rows each."""
        async with self._c.engine.begin() as conn:
            now = self._c.clock.now()  # once the connection is ours: rows committed before it are due
            return await conn.run_sync(outbox.claim_heads, now, self._lease, max_targets, list(self._tasks))

    # -- one target ---------------------------------------------------------------------------------

    async def _deliver_target(self, rows: list[Delivery]) -> None:
        """Send a target's rows in order, one at a time, each only once the outcome of the one before is
        stored; stop at the first one that must wait for a retry. When the leased rows run out, the
        transaction that stores the last outcome leases the target's next rows, if any are due."""
        queue = deque(rows)
        try:
            while queue:
                row = queue[0]
                if row.leased_until - self._c.clock.now() < timedelta(seconds=self._timeout + 1):
                    lease_until = self._c.clock.now() + self._lease
                    await outbox.set_due(self._c.engine, [r.id for r in queue], lease_until)
                    for r in queue:
                        r.leased_until = lease_until
                sent = time.perf_counter()
                outcome = await self.attempt(row)
                self._c.metrics.webhook_seconds.observe(time.perf_counter() - sent)
                queue.popleft()
                state = self._judge(row, outcome)
                self._c.metrics.webhook_attempts.labels(state.status.value).inc()
                more = await self._record(row, state, claim_next=state.final and not queue)
                if not state.final:
                    break
                queue.extend(more)
        finally:
            rest = [r.id for r in queue]
            if rest:  # give back what was not attempted: it is due again, behind the head of its queue
                with contextlib.suppress(Exception):
                    await asyncio.shield(outbox.set_due(self._c.engine, rest, self._c.clock.now()))

    async def attempt(self, row: Delivery) -> Outcome:
        """POST one delivery."""
        body = json.dumps(row.payload, separators=(",", ":"), ensure_ascii=False).encode()
        timestamp = int(self._c.clock.now().timestamp())
        try:
            origin, host, target = await pin(row.target_url,
                                             allow_private=self._c.settings.allow_private_callback_targets)
        except Refused as exc:
            return Outcome(ok=False, error=f"refused: {exc}", refused=True)
        except OSError as exc:
            return Outcome(ok=False, error=f"could not resolve the target's host ({type(exc).__name__})")
        headers = [
            ("Host", host),
            ("User-Agent", "meetkit-webhooks"),
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            ("X-Meetkit-Event", row.event),
            ("X-Meetkit-Idempotency-Key", row.idempotency_key),
            ("X-Meetkit-Timestamp", str(timestamp)),
            ("X-Meetkit-Signature", sign(row.secret, timestamp, body)),
        ]
        if row.room_metadata:
            headers.append(("X-Meetkit-Room-Metadata", encode_metadata(row.room_metadata)))
        try:
            async with asyncio.timeout(self._timeout):
                status = await self._http.post(origin, target, headers, body)
        except TimeoutError:
            return Outcome(ok=False, error=f"timed out after {self._timeout:g} s")
        except HTTPFailure as exc:
            return Outcome(ok=False, error=str(exc))
        except Exception as exc:  # anything else is a failed attempt too (retried with backoff), not a crash
            log.warning("webhook %d to %s: unexpected %r", row.id, safe_target(row.target_url), exc)
            return Outcome(ok=False, error=type(exc).__name__)
        if 200 <= status < 300:
            return Outcome(ok=True)
        if 300 <= status < 400:
            return Outcome(ok=False, error=f"HTTP {status} (redirects are not followed)")
        return Outcome(ok=False, error=f"HTTP {status}")

    def _judge(self, row: Delivery, outcome: Outcome) -> NextState:
        """The row after this attempt (the retry policy's verdict), logged; the row's attempts follow."""
        s = self._c.settings
        policy = RetryPolicy(s.webhook_initial_backoff, s.webhook_max_backoff, s.webhook_retry_period)
        now = self._c.clock.now()
        state = next_state(DeliveryStatus.PENDING, row.attempts, row.queued_at, outcome, now, policy,
                           jitter=random.random())
        row.attempts = state.attempts
        where = safe_target(row.target_url)
        if state.status is DeliveryStatus.FAILED:
            log.warning("webhook %d (%s) to %s: %s", row.id, row.event, where, state.last_error)
        elif state.status is DeliveryStatus.DEAD:
            log.error("webhook %d (%s) to %s is dead after %d attempts: %s", row.id, row.event, where,
                      state.attempts, state.last_error)
        elif state.status is DeliveryStatus.PENDING:
            assert state.next_attempt_at is not None
            log.warning("webhook %d (%s) to %s failed (attempt %d): %s; retry in %.1f s", row.id, row.event,
                        where, state.attempts, state.last_error, (state.next_attempt_at - now).total_seconds())
        return state

    # -- storing outcomes (group commit) --------------------------------------------------------------

    async def _record(self, row: Delivery, state: NextState, *, claim_next: bool) -> list[Delivery]:
        """Store one outcome; returns once it is committed. The outcomes that arrive while the writer is
        busy go in together in its next transaction (one per round, not one per delivery). With
        ``claim_next``, that transaction also leases the target's next rows, which are returned."""
        write = _Write(row.id, row.ordering_key if claim_next else None, state,
                       asyncio.get_running_loop().create_future())
        self._writes.append(write)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_all())
        return await write.done

    async def _write_all(self) -> None:
        await asyncio.sleep(0)  # let the outcomes of this loop iteration join the batch
        while self._writes:
            batch, self._writes = self._writes[:_MAX_WRITES], self._writes[_MAX_WRITES:]
            try:
                async with self._c.engine.begin() as conn:
                    now = self._c.clock.now()
                    claimed = await conn.run_sync(self._write_sync, now, batch)
            except Exception as exc:  # the rows stay pending and leased: they are sent again later
                log.exception("could not store webhook outcomes")
                for write in batch:
                    if not write.done.done():
                        write.done.set_exception(exc)
                continue
            orphans: list[int] = []
            for write in batch:
                rows = claimed.get(write.claim_next, []) if write.claim_next else []
                if not write.done.done():
                    write.done.set_result(rows)
                else:  # its task was cancelled meanwhile: the rows just leased for it are due again
                    orphans += [r.id for r in rows]
            if orphans:
                with contextlib.suppress(Exception):
                    await outbox.set_due(self._c.engine, orphans, self._c.clock.now())

    def _write_sync(self, conn: Connection, now: datetime, batch: list[_Write]) -> dict[str, list[Delivery]]:
        outbox.store_outcomes(conn, [(w.id, w.state) for w in batch])
        keys = [w.claim_next for w in batch if w.claim_next]
        return outbox.claim_queues(conn, now, self._lease, keys) if keys else {}
