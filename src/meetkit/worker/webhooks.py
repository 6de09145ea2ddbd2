"""The webhook delivery worker: claims due outbox rows, POSTs them signed, retries with backoff.

One queue per target URL (``ordering_key``): the rows of a target go out one at a time, in ``id`` order,
and only the head of a target's queue is ever claimed, so several meetkit processes sharing a PostgreSQL
database (``FOR UPDATE SKIP LOCKED``) never send one target's events out of order. Targets are served
concurrently (at most ``webhook_concurrency`` at once), so a slow or failing target delays no one else.

A claim leases the rows (``next_attempt_at`` moves past the lease): if the process dies mid-delivery the
rows stay ``pending`` and are sent again once the lease runs out. Delivery is at least once; receivers
de-duplicate by ``X-Meetkit-Idempotency-Key``.

A target's next row is sent only once the outcome of the one before is committed. The outcomes of all
targets that arrive while a transaction is being written go in together in the next one (group commit),
and when a target's leased rows run out, that same transaction leases its next ones; so the database
sees about one transaction per round of deliveries, not two per delivery. Requests go out through a
small HTTP/1.1 client (h11 on asyncio streams) that keeps one connection per target alive."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import json
import logging
import random
import socket
import ssl
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import h11
import httpx
from sqlalchemy import bindparam, func, literal_column, select, union_all, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.selectable import Alias

from ..actions.webhooks import DEAD, DELIVERED, FAILED, PENDING, doorbell
from ..container import Container
from ..domain.webhooks import sign
from ..storage import tables as t

log = logging.getLogger("meetkit.webhooks")

_BATCH = 50  # rows of one target claimed at once
_MAX_WRITES = 500  # outcomes stored in one transaction
_MAX_ERROR = 300
_READ_LIMIT = 64 * 1024  # a receiver's answer is read (to keep the connection) only when this small
_MAX_HEAD = 100 * 1024  # the status line and headers of an answer
_CHUNK = 64 * 1024
_KEEPALIVE = 4.0  # seconds an idle connection is kept: less than the 5 s after which many servers close one
# Metadata goes in a header: printable ASCII stays as it is, anything else is percent-encoded UTF-8.
_METADATA_SAFE = "".join(chr(i) for i in range(0x20, 0x7F) if chr(i) != "%")

_D = t.Base.metadata.tables["webhook_deliveries"]
_A = t.Base.metadata.tables["applications"]


class _PendingByTarget(Alias):
    """``webhook_deliveries`` read through its partial index ``(ordering_key, id) WHERE status = 'pending'``:
    a target's pending rows in id order, without touching the table. PostgreSQL picks the index from its
    statistics; SQLite has none (no ANALYZE) and would walk ``(status, id)`` and read every pending row
    of every target, so it is told which index to use."""

    inherit_cache = True


@compiles(_PendingByTarget)
def _render_pending_by_target(element: _PendingByTarget, compiler: SQLCompiler, **kw: Any) -> str:
    text: str = compiler.visit_alias(element, **kw)  # type: ignore[no-untyped-call]
    if compiler.dialect.name == "sqlite" and kw.get("asfrom") and not kw.get("ashint"):
        text += " INDEXED BY ix_webhook_pending_target"
    return text


_P = _PendingByTarget._construct(_D, name="p")
# The index's condition as a literal: a bound parameter would not prove that the partial index applies.
_IS_PENDING = _P.c.status == literal_column(f"'{PENDING}'")

# An outcome, written only while the row is still pending (a replay or another worker may have moved on).
# Executed with a list of parameter sets: one statement for the whole group commit.
_FINISH = update(_D).where(_D.c.id == bindparam("b_id"), _D.c.status == PENDING).values(
    status=bindparam("b_status", type_=_D.c.status.type),
    attempts=bindparam("b_attempts", type_=_D.c.attempts.type),
    delivered_at=bindparam("b_delivered_at", type_=_D.c.delivered_at.type),
    last_error=bindparam("b_error", type_=_D.c.last_error.type))
_RETRY = update(_D).where(_D.c.id == bindparam("b_id"), _D.c.status == PENDING).values(
    attempts=bindparam("b_attempts", type_=_D.c.attempts.type),
    next_attempt_at=bindparam("b_when", type_=_D.c.next_attempt_at.type),
    last_error=bindparam("b_error", type_=_D.c.last_error.type))


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
    leased_until: datetime  # this worker's lease on the row: its next_attempt_at
    secret: str = field(repr=False)


@dataclass
class _Write:
    id: int
    claim_next: str | None  # the row's ordering key, when its target's next rows are to be leased
    values: dict[str, Any]
    done: asyncio.Future[list[Delivery]]


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


@functools.lru_cache(maxsize=1024)
def _parse_target(url: str) -> tuple[str, str, int, str, bytes]:
    """A callback URL's scheme, host, port, Host header and request target (path and query)."""
    try:
        parsed = httpx.URL(url)
    except Exception as exc:
        raise Refused("not a valid URL") from exc
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise Refused("only http and https URLs are called")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    return parsed.scheme, parsed.host, port, parsed.netloc.decode("ascii"), parsed.raw_path


def is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether meetkit may call this address without ``allow_private_callback_targets``."""
    return address.is_global


# -- outbound HTTP -----------------------------------------------------------------------------------
# A small HTTP/1.1 client (h11 over asyncio streams) with keep-alive connections. Deliveries to one target
# go one at a time, so a target reuses one connection; nothing here follows redirects, uses a proxy or
# retries (a failed request is a failed attempt).


@dataclass(frozen=True)
class Origin:
    scheme: str
    host: str  # what is connected to: the checked address (or the URL's host, when private targets are allowed)
    port: int
    server_name: str  # the URL's host: TLS server name and the name the certificate is checked against


class HTTPFailure(Exception):
    """A request that got no answer; the message (a short class name, as httpx names them) is the error."""


def _small_framed_body(response: h11.Response) -> bool:
    """Whether the answer's body ends within ``_READ_LIMIT`` at a known place (or there is none). A body
    that ends when the connection closes, or a large one, is not read: the connection is closed instead."""
    if response.status_code in (204, 304):
        return True
    length = [v for k, v in response.headers if k == b"content-length"]
    if length:
        return length[0].isdigit() and int(length[0]) <= _READ_LIMIT
    return any(k == b"transfer-encoding" and v.lower().endswith(b"chunked") for k, v in response.headers)


class _Connection:
    def __init__(self, origin: Origin, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.origin = origin
        self._reader = reader
        self._writer = writer
        self._h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=_MAX_HEAD)
        self.idle_since = 0.0
        self.answered = False  # whether the receiver sent anything since the current request began

    @classmethod
    async def open(cls, origin: Origin, tls: ssl.SSLContext) -> _Connection:
        https = origin.scheme == "https"
        try:
            reader, writer = await asyncio.open_connection(
                origin.host, origin.port, ssl=tls if https else None,
                server_hostname=origin.server_name if https else None)
        except (OSError, ValueError) as exc:  # refused, unreachable, TLS handshake or certificate, bad name
            raise HTTPFailure("ConnectError") from exc
        return cls(origin, reader, writer)

    def reusable(self, now: float) -> bool:
        return (now - self.idle_since < _KEEPALIVE and self._h11.our_state is h11.IDLE
                and self._h11.their_state is h11.IDLE and not self._writer.is_closing() and not self._reader.at_eof())

    async def request(self, target: bytes, headers: list[tuple[str, str]], body: bytes) -> h11.Response:
        """Send a POST; the answer's status line and headers."""
        self.answered = False
        try:
            data = (self._h11.send(h11.Request(method="POST", target=target, headers=headers)) or b"") \
                + (self._h11.send(h11.Data(data=body)) or b"") + (self._h11.send(h11.EndOfMessage()) or b"")
        except h11.LocalProtocolError as exc:
            raise HTTPFailure("LocalProtocolError") from exc
        try:
            self._writer.write(data)
            await self._writer.drain()
        except OSError as exc:
            raise HTTPFailure("WriteError") from exc
        while True:
            event = await self._next_event()
            if isinstance(event, h11.Response):
                return event
            if not isinstance(event, h11.InformationalResponse):  # 1xx: the answer is still to come
                raise HTTPFailure("RemoteProtocolError")

    async def finish(self, response: h11.Response) -> bool:
        """Read the rest of the answer when it is small and its end is known, so that the connection can
        be reused; True when it can."""
        if not _small_framed_body(response):
            return False
        event: Any = None
        size = 0
        while not isinstance(event, h11.EndOfMessage):
            event = await self._next_event()
            if isinstance(event, h11.Data):
                size += len(event.data)
                if size > _READ_LIMIT:
                    return False
            elif not isinstance(event, h11.EndOfMessage):
                return False
        if self._h11.our_state is h11.DONE and self._h11.their_state is h11.DONE:
            self._h11.start_next_cycle()
            return True
        return False

    async def _next_event(self) -> Any:
        while True:
            try:
                event = self._h11.next_event()
            except h11.RemoteProtocolError as exc:
                raise HTTPFailure("RemoteProtocolError") from exc
            if event is not h11.NEED_DATA:
                if isinstance(event, h11.ConnectionClosed):
                    raise HTTPFailure("RemoteProtocolError")
                return event
            try:
                data = await self._reader.read(_CHUNK)
            except OSError as exc:
                raise HTTPFailure("ReadError") from exc
            self.answered = self.answered or bool(data)
            self._h11.receive_data(data)  # b"" is the end of the stream

    def close(self) -> None:
        self._writer.close()


class Outbound:
    """POSTs with keep-alive connections, at most ``max_idle`` of them idle (each for ``_KEEPALIVE`` s).
    TLS is checked against ``tls`` (by default the CA bundle httpx uses, without the environment's)."""

    def __init__(self, max_idle: int, tls: ssl.SSLContext | None = None) -> None:
        self._max_idle = max_idle
        self._idle: list[_Connection] = []  # oldest first
        self._tls = tls or httpx.create_ssl_context(trust_env=False)
        self._tls.set_alpn_protocols(["http/1.1"])

    async def post(self, origin: Origin, target: bytes, headers: list[tuple[str, str]], body: bytes) -> int:
        """The status of the answer to a POST of ``body``. A kept-alive connection that fails before the
        receiver says anything was most likely closed by the receiver meanwhile (its FIN still on its
        way): the request is sent once more, on a new connection. (Should the receiver have taken it
        the first time, that is one more at-least-once repeat, with the same idempotency key.)"""
        conn = self._take(origin)
        if conn is not None:
            try:
                return await self._exchange(conn, target, headers, body)
            except HTTPFailure:
                if conn.answered:
                    raise
        return await self._exchange(await _Connection.open(origin, self._tls), target, headers, body)

    async def _exchange(self, conn: _Connection, target: bytes, headers: list[tuple[str, str]], body: bytes) -> int:
        keep = False
        try:
            response = await conn.request(target, headers, body)
            with contextlib.suppress(HTTPFailure):  # the status is the answer; the rest only keeps the connection
                keep = await conn.finish(response)
            return int(response.status_code)
        finally:
            if keep:
                conn.idle_since = time.monotonic()
                self._idle.append(conn)
                self._prune()
            else:
                conn.close()

    def _take(self, origin: Origin) -> _Connection | None:
        self._prune()
        now = time.monotonic()
        for i in range(len(self._idle) - 1, -1, -1):
            conn = self._idle[i]
            if conn.origin == origin:
                del self._idle[i]
                if conn.reusable(now):
                    return conn
                conn.close()
        return None

    def _prune(self) -> None:
        now = time.monotonic()
        while self._idle and (len(self._idle) > self._max_idle or now - self._idle[0].idle_since >= _KEEPALIVE):
            self._idle.pop(0).close()

    def close(self) -> None:
        while self._idle:
            self._idle.pop().close()


class WebhookWorker:
    def __init__(self, c: Container, *, tls: ssl.SSLContext | None = None) -> None:
        self._c = c
        s = c.settings
        self._timeout = s.webhook_timeout
        self._lease = timedelta(seconds=2 * s.webhook_timeout + 5)
        self._http = Outbound(max_idle=2 * s.webhook_concurrency, tls=tls)
        self._postgres = c.engine.dialect.name == "postgresql"
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
        serving, with up to ``_BATCH`` rows each."""
        async with self._c.engine.begin() as conn:
            now = self._c.clock.now()  # once the connection is ours: rows committed before it are due
            return await conn.run_sync(self._claim_sync, now, max_targets, None)

    def _claim_sync(self, conn: Connection, now: datetime, max_targets: int,
                    keys: list[str] | None) -> dict[str, list[Delivery]]:
        """Lease target queues whose head (lowest pending id) is due, with up to ``_BATCH`` rows each:
        up to ``max_targets`` queues that no task of this worker serves, or (``keys``) these queues, which
        this worker's tasks serve. Only a head makes its queue claimable, and the lease moves the head's
        ``next_attempt_at`` ahead, so a queue is leased by one worker at a time; on PostgreSQL the head is
        locked (``FOR UPDATE SKIP LOCKED``) until the lease commits, so two workers cannot both take it."""
        d = _D
        if keys is None:
            first = select(func.min(_P.c.id)).where(_IS_PENDING).group_by(_P.c.ordering_key)
            if self._tasks:
                first = first.where(_P.c.ordering_key.not_in(list(self._tasks)))
            keys = list(conn.execute(
                select(d.c.ordering_key)
                .where(d.c.id.in_(first), d.c.status == PENDING, d.c.next_attempt_at <= now)
                .order_by(d.c.id)
                .limit(max_targets)
            ).scalars())
            if not keys:
                return {}
        # Each queue from its head on: one index range per queue.
        parts = [select(_P.c.id).where(_P.c.ordering_key == key, _IS_PENDING).order_by(_P.c.id).limit(_BATCH)
                 .subquery() for key in keys]
        ids = union_all(*(select(part.c.id) for part in parts)) if len(parts) > 1 else select(parts[0].c.id)
        queues: dict[str, list[Any]] = {}  # the rows of each queue, as read
        for r in conn.execute(
            select(d.c.id, d.c.event, d.c.payload, d.c.target_url, d.c.ordering_key, d.c.idempotency_key,
                   d.c.attempts, d.c.queued_at, d.c.room_metadata, d.c.next_attempt_at, _A.c.webhook_secret)
            .join(_A, _A.c.id == d.c.application_id)
            .where(d.c.id.in_(ids))
            .order_by(d.c.id)
        ):
            queues.setdefault(r.ordering_key, []).append(r)
        heads = [rows[0].id for rows in queues.values() if rows[0].next_attempt_at <= now]
        if heads and self._postgres:  # a head another worker is leasing right now is left to it
            heads = list(conn.execute(
                select(d.c.id).where(d.c.id.in_(heads), d.c.status == PENDING, d.c.next_attempt_at <= now)
                .with_for_update(skip_locked=True)
            ).scalars())
        taken = [rows for rows in queues.values() if rows[0].id in heads]
        if not taken:
            return {}
        lease_until = now + self._lease
        conn.execute(update(d).where(d.c.id.in_([r.id for rows in taken for r in rows]))
                     .values(next_attempt_at=lease_until))
        return {rows[0].ordering_key: [Delivery(
            id=r.id, event=r.event, payload=r.payload, target_url=r.target_url, ordering_key=r.ordering_key,
            idempotency_key=r.idempotency_key, attempts=r.attempts, queued_at=r.queued_at,
            room_metadata=r.room_metadata, leased_until=lease_until, secret=r.webhook_secret) for r in rows]
            for rows in taken}

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
                    await self._set_due([r.id for r in queue], lease_until)
                    for r in queue:
                        r.leased_until = lease_until
                outcome = await self.attempt(row)
                queue.popleft()
                values, go_on = self._judge(row, outcome)
                more = await self._record(row, values, claim_next=go_on and not queue)
                if not go_on:
                    break
                queue.extend(more)
        finally:
            rest = [r.id for r in queue]
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
        try:
            origin, host, target = await self._pin(row.target_url)
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

    async def _pin(self, url: str) -> tuple[Origin, str, bytes]:
        """Where to connect for ``url``, its Host header and its request target. The target's addresses
        are checked; unless private targets are allowed, the connection goes to the address that was
        checked (not to a second DNS answer), with the URL's host name for TLS (SNI, certificate)."""
        scheme, host, port, netloc, target = _parse_target(url)
        if self._c.settings.allow_private_callback_targets:
            return Origin(scheme, host, port, host), netloc, target
        try:
            addresses = [ipaddress.ip_address(host)]
        except ValueError:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
            addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
        if not addresses:
            raise OSError("no address")
        for address in addresses:
            plain = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped \
                else address
            if not is_public(plain):
                raise Refused(f"{host} resolves to a private, loopback or link-local address ({plain}); "
                              "set MEETKIT_ALLOW_PRIVATE_CALLBACK_TARGETS=true to allow it")
        return Origin(scheme, str(addresses[0]), port, host), netloc, target

    def _judge(self, row: Delivery, outcome: Outcome) -> tuple[dict[str, Any], bool]:
        """The row's new column values after this attempt, and whether the target's next row may go."""
        now = self._c.clock.now()
        attempts = row.attempts + 1
        row.attempts = attempts
        if outcome.ok:
            return {"status": DELIVERED, "attempts": attempts, "delivered_at": now, "last_error": None}, True
        if outcome.refused:
            log.warning("webhook %d (%s) to %s: %s", row.id, row.event, safe_target(row.target_url),
                        outcome.error)
            return {"status": FAILED, "attempts": attempts, "delivered_at": None,
                    "last_error": (outcome.error or "")[:_MAX_ERROR]}, True
        deadline = row.queued_at + timedelta(seconds=self._c.settings.webhook_retry_period)
        error = (outcome.error or "failed")[:_MAX_ERROR]
        if now >= deadline:
            log.error("webhook %d (%s) to %s is dead after %d attempts: %s", row.id, row.event,
                      safe_target(row.target_url), attempts, error)
            return {"status": DEAD, "attempts": attempts, "delivered_at": None, "last_error": error}, True
        delay = backoff(attempts, self._c.settings.webhook_initial_backoff, self._c.settings.webhook_max_backoff)
        when = min(now + timedelta(seconds=delay), deadline)
        log.warning("webhook %d (%s) to %s failed (attempt %d): %s; retry in %.1f s", row.id, row.event,
                    safe_target(row.target_url), attempts, error, (when - now).total_seconds())
        return {"next_attempt_at": when, "attempts": attempts, "last_error": error}, False

    # -- storing outcomes (group commit) --------------------------------------------------------------

    async def _record(self, row: Delivery, values: dict[str, Any], *, claim_next: bool) -> list[Delivery]:
        """Store one outcome; returns once it is committed. The outcomes that arrive while the writer is
        busy go in together in its next transaction (one per round, not one per delivery). With
        ``claim_next``, that transaction also leases the target's next rows, which are returned."""
        write = _Write(row.id, row.ordering_key if claim_next else None, values,
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
                    await self._set_due(orphans, self._c.clock.now())

    def _write_sync(self, conn: Connection, now: datetime, batch: list[_Write]) -> dict[str, list[Delivery]]:
        finished = [{"b_id": w.id, "b_status": w.values["status"], "b_attempts": w.values["attempts"],
                     "b_delivered_at": w.values["delivered_at"], "b_error": w.values["last_error"]}
                    for w in batch if "status" in w.values]
        retried = [{"b_id": w.id, "b_attempts": w.values["attempts"], "b_when": w.values["next_attempt_at"],
                    "b_error": w.values["last_error"]}
                   for w in batch if "status" not in w.values]
        if finished:
            conn.execute(_FINISH, finished)
        if retried:
            conn.execute(_RETRY, retried)
        keys = [w.claim_next for w in batch if w.claim_next]
        return self._claim_sync(conn, now, 0, keys) if keys else {}
