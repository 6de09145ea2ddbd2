"""The webhook delivery worker: claims due outbox rows, POSTs them signed, retries with backoff.

One queue per target URL (``ordering_key``): the rows of a target go out one at a time, in ``id`` order,
and only the head of a target's queue is ever claimed, so several meetkit processes sharing a PostgreSQL
database (``FOR UPDATE SKIP LOCKED``) never send one target's events out of order. Targets are served
concurrently (at most ``webhook_concurrency`` at once), so a slow or failing target delays no one else.

A claim leases the rows (``next_attempt_at`` moves past the lease): if the process dies mid-delivery the
rows stay ``pending`` and are sent again once the lease runs out. Delivery is at least once; receivers
de-duplicate by ``X-Meetkit-Idempotency-Key``."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import json
import logging
import random
import socket
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
from sqlalchemy import and_, exists, func, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.sql import Select

from ..actions.webhooks import DEAD, DELIVERED, FAILED, PENDING, doorbell
from ..container import Container
from ..domain.webhooks import sign
from ..storage import tables as t

log = logging.getLogger("meetkit.webhooks")

_BATCH = 50  # rows of one target claimed at once
_MAX_ERROR = 300
_READ_LIMIT = 64 * 1024  # a receiver's answer is read (to keep the connection) only when this small
# Metadata goes in a header: printable ASCII stays as it is, anything else is percent-encoded UTF-8.
_METADATA_SAFE = "".join(chr(i) for i in range(0x20, 0x7F) if chr(i) != "%")

_D = t.Base.metadata.tables["webhook_deliveries"]
_A = t.Base.metadata.tables["applications"]


class Refused(Exception):
    """The target is not one meetkit may call (a private address, a wrong scheme): not retried."""


@dataclass
class Delivery:
    id: int
    event: str
    payload: dict[str, Any]
    target_url: str
    ordering_key: str
    idempotency_key: str
    attempts: int
    queued_at: datetime
    room_metadata: str | None
    secret: str = field(repr=False)


@dataclass
class Outcome:
    ok: bool
    error: str | None = None
    refused: bool = False


def encode_metadata(metadata: str) -> str:
    return quote(metadata, safe=_METADATA_SAFE)


def safe_target(url: str) -> str:
    """The target as it may be logged: scheme, host and port (paths and queries may hold tokens)."""
    try:
        u = httpx.URL(url)
        return f"{u.scheme}://{u.host}{f':{u.port}' if u.port else ''}"
    except Exception:
        return "<unparsable url>"


def backoff(attempts: int, initial: float, cap: float) -> float:
    """Capped exponential backoff with jitter: half fixed, half random."""
    delay = min(cap, initial * 2.0 ** max(0, min(attempts - 1, 30)))
    return delay / 2 + random.uniform(0, delay / 2)


class WebhookWorker:
    def __init__(self, c: Container, client: httpx.AsyncClient | None = None) -> None:
        self._c = c
        s = c.settings
        self._timeout = s.webhook_timeout
        self._lease = timedelta(seconds=2 * s.webhook_timeout + 5)
        self._own_client = client is None
        self._client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(s.webhook_timeout),
            follow_redirects=False,
            trust_env=False,
            limits=httpx.Limits(max_connections=4 * s.webhook_concurrency,
                                max_keepalive_connections=2 * s.webhook_concurrency),
            headers={"User-Agent": "meetkit-webhooks"},
        )
        self._postgres = c.engine.dialect.name == "postgresql"
        self._wake = asyncio.Event()
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def nudge(self) -> None:
        self._wake.set()

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
                    task = asyncio.create_task(self._deliver_target(rows))
                    self._tasks[key] = task
                    task.add_done_callback(functools.partial(self._finished, key))
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
            if self._own_client:
                await self._client.aclose()

    def _finished(self, key: str, task: asyncio.Task[None]) -> None:
        self._tasks.pop(key, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("webhook delivery task failed", exc_info=task.exception())
        self._wake.set()

    # -- claiming ---------------------------------------------------------------------------------

    async def claim(self, max_targets: int) -> dict[str, list[Delivery]]:
        """Lease the heads of up to ``max_targets`` due target queues, with up to ``_BATCH`` rows each."""
        now = self._c.clock.now()
        async with self._c.engine.begin() as conn:
            return await conn.run_sync(self._claim_sync, now, max_targets)

    def _claim_sync(self, conn: Connection, now: datetime, max_targets: int) -> dict[str, list[Delivery]]:
        d, earlier = _D, _D.alias("earlier")
        heads: Select[Any] = (
            select(d.c.id, d.c.ordering_key)
            .where(
                d.c.status == PENDING,
                d.c.next_attempt_at <= now,
                ~exists().where(and_(earlier.c.ordering_key == d.c.ordering_key, earlier.c.status == PENDING,
                                     earlier.c.id < d.c.id)),
            )
            .order_by(d.c.id)
            .limit(max_targets)
        )
        if self._tasks:
            heads = heads.where(d.c.ordering_key.not_in(list(self._tasks)))
        if self._postgres:
            heads = heads.with_for_update(skip_locked=True, of=d)
        keys = [row.ordering_key for row in conn.execute(heads)]
        if not keys:
            return {}
        rank = func.row_number().over(partition_by=d.c.ordering_key, order_by=d.c.id).label("rank")
        ranked = select(d.c.id, rank).where(d.c.status == PENDING, d.c.ordering_key.in_(keys)).subquery()
        ids = list(conn.execute(select(ranked.c.id).where(ranked.c.rank <= _BATCH)).scalars())
        conn.execute(update(d).where(d.c.id.in_(ids)).values(next_attempt_at=now + self._lease))
        rows = conn.execute(
            select(d.c.id, d.c.event, d.c.payload, d.c.target_url, d.c.ordering_key, d.c.idempotency_key,
                   d.c.attempts, d.c.queued_at, d.c.room_metadata, _A.c.webhook_secret)
            .join(_A, _A.c.id == d.c.application_id)
            .where(d.c.id.in_(ids))
            .order_by(d.c.id)
        )
        claimed: dict[str, list[Delivery]] = {}
        for r in rows:
            claimed.setdefault(r.ordering_key, []).append(Delivery(
                id=r.id, event=r.event, payload=r.payload, target_url=r.target_url, ordering_key=r.ordering_key,
                idempotency_key=r.idempotency_key, attempts=r.attempts, queued_at=r.queued_at,
                room_metadata=r.room_metadata, secret=r.webhook_secret))
        return claimed

    # -- one target ---------------------------------------------------------------------------------

    async def _deliver_target(self, rows: list[Delivery]) -> None:
        """Send a target's rows in order; stop at the first one that must wait for a retry."""
        lease_until = self._c.clock.now() + self._lease
        done = 0
        try:
            for row in rows:
                if lease_until - self._c.clock.now() < timedelta(seconds=self._timeout + 1):
                    lease_until = self._c.clock.now() + self._lease
                    await self._set_due([r.id for r in rows[done:]], lease_until)
                outcome = await self.attempt(row)
                done += 1
                if not await self._record(row, outcome):
                    break
        finally:
            rest = [r.id for r in rows[done:]]
            if rest:  # give back what was not attempted: it is due again, behind the head of its queue
                with contextlib.suppress(Exception):
                    await asyncio.shield(self._set_due(rest, self._c.clock.now()))

    async def _set_due(self, ids: list[int], when: datetime) -> None:
        async with self._c.engine.begin() as conn:
            await conn.execute(update(_D).where(_D.c.id.in_(ids), _D.c.status == PENDING)
                               .values(next_attempt_at=when))

    async def attempt(self, row: Delivery) -> Outcome:
        """POST one delivery."""
        body = json.dumps(row.payload, separators=(",", ":"), ensure_ascii=False).encode()
        timestamp = int(self._c.clock.now().timestamp())
        headers = {
            "Content-Type": "application/json",
            "X-Meetkit-Event": row.event,
            "X-Meetkit-Idempotency-Key": row.idempotency_key,
            "X-Meetkit-Timestamp": str(timestamp),
            "X-Meetkit-Signature": sign(row.secret, timestamp, body),
        }
        if row.room_metadata:
            headers["X-Meetkit-Room-Metadata"] = encode_metadata(row.room_metadata)
        try:
            url, extensions = await self._pin(row.target_url, headers)
        except Refused as exc:
            return Outcome(ok=False, error=f"refused: {exc}", refused=True)
        except OSError as exc:
            return Outcome(ok=False, error=f"could not resolve the target's host ({type(exc).__name__})")
        try:
            async with asyncio.timeout(self._timeout):
                async with self._client.stream("POST", url, content=body, headers=headers,
                                               extensions=extensions) as resp:
                    length = resp.headers.get("content-length")
                    if length is not None and length.isdigit() and int(length) <= _READ_LIMIT:
                        await resp.aread()
                    status = resp.status_code
        except (TimeoutError, httpx.TimeoutException):
            return Outcome(ok=False, error=f"timed out after {self._timeout:g} s")
        except httpx.HTTPError as exc:
            return Outcome(ok=False, error=f"{type(exc).__name__}")
        if 200 <= status < 300:
            return Outcome(ok=True)
        if 300 <= status < 400:
            return Outcome(ok=False, error=f"HTTP {status} (redirects are not followed)")
        return Outcome(ok=False, error=f"HTTP {status}")

    async def _pin(self, url: str, headers: dict[str, str]) -> tuple[str, dict[str, Any]]:
        """Check the target's addresses; unless private targets are allowed, connect to the address
        that was checked (not to a second DNS answer)."""
        try:
            parsed = httpx.URL(url)
        except Exception as exc:
            raise Refused("not a valid URL") from exc
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise Refused("only http and https URLs are called")
        if self._c.settings.allow_private_callback_targets:
            return url, {}
        host = parsed.host
        try:
            addresses = [ipaddress.ip_address(host)]
        except ValueError:
            port = parsed.port or (443 if parsed.scheme == "https" else 80)
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
            addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
        if not addresses:
            raise OSError("no address")
        for address in addresses:
            plain = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped \
                else address
            if not plain.is_global:
                raise Refused(f"{host} resolves to a private, loopback or link-local address ({plain}); "
                              "set MEETKIT_ALLOW_PRIVATE_CALLBACK_TARGETS=true to allow it")
        headers["Host"] = parsed.netloc.decode("ascii")
        extensions: dict[str, Any] = {"sni_hostname": host} if parsed.scheme == "https" else {}
        return str(parsed.copy_with(host=str(addresses[0]))), extensions

    async def _record(self, row: Delivery, outcome: Outcome) -> bool:
        """Store the outcome; True when the target's next row may go now."""
        now = self._c.clock.now()
        attempts = row.attempts + 1
        row.attempts = attempts
        values: dict[str, Any]
        if outcome.ok:
            values = {"status": DELIVERED, "delivered_at": now, "last_error": None}
            go_on = True
        elif outcome.refused:
            values = {"status": FAILED, "last_error": (outcome.error or "")[:_MAX_ERROR]}
            go_on = True
            log.warning("webhook %d (%s) to %s: %s", row.id, row.event, safe_target(row.target_url),
                        outcome.error)
        else:
            deadline = row.queued_at + timedelta(seconds=self._c.settings.webhook_retry_period)
            error = (outcome.error or "failed")[:_MAX_ERROR]
            if now >= deadline:
                values = {"status": DEAD, "last_error": error}
                go_on = True
                log.error("webhook %d (%s) to %s is dead after %d attempts: %s", row.id, row.event,
                          safe_target(row.target_url), attempts, error)
            else:
                delay = backoff(attempts, self._c.settings.webhook_initial_backoff,
                                self._c.settings.webhook_max_backoff)
                when = min(now + timedelta(seconds=delay), deadline)
                values = {"next_attempt_at": when, "last_error": error}
                go_on = False
                log.warning("webhook %d (%s) to %s failed (attempt %d): %s; retry in %.1f s", row.id, row.event,
                            safe_target(row.target_url), attempts, error, (when - now).total_seconds())
        async with self._c.engine.begin() as conn:
            await conn.execute(update(_D).where(_D.c.id == row.id, _D.c.status == PENDING)
                               .values(attempts=attempts, **values))
        return go_on
