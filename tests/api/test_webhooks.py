"""Webhook delivery against a real ``meetkit serve`` (SQLite and PostgreSQL) and real HTTP receivers on
127.0.0.1. Nothing in the product emits events yet, so the tests put them in the outbox the way an
action will: ``enqueue_event`` inside a transaction, through meetkit's storage layer."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from pydantic import ValidationError

from meetkit.actions.webhooks import enqueue_event, target_url
from meetkit.domain import webhooks as hooks
from meetkit.storage import tables as t

from ..receiver import Hit, Receiver
from ..support import Server, make_tls_cert, metric_sample, run, start_server, stop_server

BACKENDS = ["sqlite", "postgresql"]
FAST_RETRIES = {
    "MEETKIT_ALLOW_PRIVATE_CALLBACK_TARGETS": "true",
    "MEETKIT_WEBHOOK_POLL_INTERVAL": "0.05",
    "MEETKIT_WEBHOOK_INITIAL_BACKOFF": "0.2",
    "MEETKIT_WEBHOOK_MAX_BACKOFF": "0.5",
    "MEETKIT_WEBHOOK_TIMEOUT": "1",
    "MEETKIT_WEBHOOK_RETRY_PERIOD": "120",
}
NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


def verify_signature(secret: str, headers: dict[str, str], body: bytes, tolerance: int = 300) -> bool:
    """The receiver's check, as docs/webhooks.md shows it."""
    timestamp = headers["x-meetkit-timestamp"]
    if abs(time.time() - int(timestamp)) > tolerance:
        return False
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest("v1=" + expected, headers["x-meetkit-signature"])


# -- helpers that act on the server's database, as meetkit's own code does -------------------------


def _container(server: Server) -> Any:
    from meetkit.app import build_container
    from meetkit.config import Settings

    return build_container(Settings(data_dir=server.data_dir, database_url=server.database_url))


def make_application(server: Server, *, sessions_url: str | None = None, rooms_url: str | None = None,
                     recordings_url: str | None = None) -> tuple[str, str]:
    """An application with these callback URLs: (application_id, webhook_secret)."""
    from meetkit.actions.applications import do_create_application, do_set_callbacks

    async def go() -> tuple[str, str]:
        c = _container(server)
        try:
            made = await do_create_application(c, "hooks", public_key_pem=_PUBLIC_KEY)
            app = await do_set_callbacks(c, made.application_id, {
                "session_changed_url": sessions_url, "room_changed_url": rooms_url,
                "recording_changed_url": recordings_url})
            return app.id, app.webhook_secret
        finally:
            await c.engine.dispose()

    return run(go())


def session_events(n: int, room_id: str = "r") -> list[tuple[str, dict[str, Any]]]:
    """``n`` session events with distinct participant ids p0, p1, ... (their order is the expected one)."""
    out: list[tuple[str, dict[str, Any]]] = []
    for i in range(n):
        out.append(("session:participant:joined" if i % 2 == 0 else "session:participant:left",
                    {"participant_id": f"p{i}", "session_id": "s1", "room_id": room_id, "name": f"Guest {i}",
                     "type": "guest", "is_host": False}))
    return out


def emit(server: Server, application_id: str, events: list[tuple[str, dict[str, Any]]], *,
         room_callbacks: dict[str, str] | None = None, metadata: str | None = None,
         per_transaction: int = 10) -> str:
    """A room, then ``events`` put in the outbox, ``per_transaction`` per transaction; returns the room id."""

    async def go() -> str:
        c = _container(server)
        try:
            async with c.sessions.begin() as db:
                room = t.Room(
                    id=str(uuid.uuid4()), application_id=application_id, display_name="hooks", meta=metadata,
                    type="instant", expires_at=NOW + dt.timedelta(minutes=10), expire_after_use=False,
                    theme_id=None, join_approval_level="none", recording_options={}, initial_join_options={},
                    callback_urls=room_callbacks or {}, available_features={}, ui_settings={},
                    meeting_code=str(uuid.uuid4().int)[:9], host_token=uuid.uuid4().hex, is_available=True,
                    created_at=NOW)
                db.add(room)
            for start in range(0, len(events), per_transaction):
                async with c.sessions.begin() as db:
                    app = await db.get(t.Application, application_id)
                    assert app is not None
                    for name, payload in events[start:start + per_transaction]:
                        await enqueue_event(db, app, room, name, {**payload, "room_id": room.id}
                                            if "room_id" in payload else payload, now=c.clock.now())
            return room.id
        finally:
            await c.engine.dispose()

    return run(go())


def deliveries(server: Server, application_id: str) -> list[t.WebhookDelivery]:
    from sqlalchemy import select

    async def go() -> list[t.WebhookDelivery]:
        c = _container(server)
        try:
            async with c.sessions() as db:
                return list((await db.scalars(select(t.WebhookDelivery).where(
                    t.WebhookDelivery.application_id == application_id).order_by(t.WebhookDelivery.id))).all())
        finally:
            await c.engine.dispose()

    return run(go())


def wait_rows(server: Server, application_id: str, predicate: Any, timeout: float) -> list[t.WebhookDelivery]:
    deadline = time.monotonic() + timeout
    while True:
        rows = deliveries(server, application_id)
        if predicate(rows):
            return rows
        if time.monotonic() > deadline:
            seen = [(r.id, r.status, r.last_error) for r in rows]
            raise AssertionError(f"rows not as expected in {timeout} s: {seen}")
        time.sleep(0.1)


def participants(hits: list[Hit]) -> list[str]:
    return [json.loads(h.body)["participant_id"] for h in hits]


def cli(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "meetkit.cli", *args], env=server.env, capture_output=True,
                          text=True, timeout=60)


def _public_key() -> str:
    from meetkit.actions.applications import generate_key_pair

    return generate_key_pair()[1]


_PUBLIC_KEY = _public_key()


@pytest.fixture(scope="module", params=BACKENDS)
def hooks_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server that may call loopback targets and retries fast."""
    srv = start_server(request.param, tmp_path_factory.mktemp(f"hooks-{request.param}"), FAST_RETRIES, tls=False)
    yield srv
    stop_server(srv)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


# -- the typed payloads (no server) -----------------------------------------------------------------


def test_every_contract_event_has_a_closed_schema_with_its_name() -> None:
    samples: dict[str, dict[str, Any]] = {
        "room:expired": {"room_id": "r", "room_type": "instant", "expires_at": NOW, "created_at": NOW},
        "session:started": {"session_id": "s", "room_id": "r", "started_at": NOW},
        "session:ended": {"session_id": "s", "room_id": "r", "started_at": NOW, "ended_at": NOW},
        "session:participant:joined": {"participant_id": "p", "session_id": "s", "room_id": "r", "name": "A",
                                       "type": "guest", "is_host": False},
        "session:participant:left": {"participant_id": "p", "session_id": "s", "room_id": "r", "name": "A",
                                     "type": "host", "is_host": True},
        "recording:started": {"recording_id": "x", "session_id": "s"},
        "recording:ended": {"recording_id": "x", "session_id": "s", "started_at": NOW, "ended_at": NOW,
                            "duration": 60},
        "recording:uploaded": {"recording_id": "x", "session_id": "s", "room_id": "r", "started_at": NOW,
                               "ended_at": NOW, "duration": 60, "url": "https://example.com/x.mp4"},
        "session:transcript:ready": {"session_id": "s", "room_id": "r", "cues": 3,
                                     "url": "https://example.com/v1/meetings/sessions/s/transcript"},
    }
    assert set(samples) == set(hooks.EVENT_MODELS)
    for name, fields in samples.items():
        model = hooks.EVENT_MODELS[name](**fields)
        wire = model.model_dump(mode="json")
        assert wire["event"] == name
        assert set(wire) == {"event", *fields}
        if "started_at" in wire:
            assert wire["started_at"] == "2026-03-01T12:00:00.000Z"
        assert hooks.WEBHOOK_EVENT.validate_python(wire) == model
        with pytest.raises(ValidationError):
            hooks.EVENT_MODELS[name](**fields, unexpected=1)
        with pytest.raises(ValidationError):
            hooks.WEBHOOK_EVENT.validate_python({**wire, "event": "room:exploded"})
    assert hooks.channel_of("room:expired") is hooks.Channel.ROOMS
    assert hooks.channel_of("rooms:anything") is hooks.Channel.ROOMS
    assert hooks.channel_of("session:participant:left") is hooks.Channel.SESSIONS
    assert hooks.channel_of("recording:uploaded") is hooks.Channel.RECORDINGS


def test_room_callback_urls_override_the_applications() -> None:
    app = t.Application(room_changed_url="https://a/rooms", session_changed_url="https://a/sessions",
                        recording_changed_url=None)
    room = t.Room(callback_urls={"sessions_callback_url": "https://r/sessions", "rooms_callback_url": None})
    assert target_url(app, room, "session:started") == "https://r/sessions"
    assert target_url(app, room, "room:expired") == "https://a/rooms"
    assert target_url(app, room, "recording:started") is None
    assert target_url(app, None, "session:ended") == "https://a/sessions"


def test_signature_helpers_agree_with_the_documented_check() -> None:
    body = b'{"event":"session:started"}'
    ts = int(time.time())
    signature = hooks.sign("s3cret", ts, body)
    headers = {"x-meetkit-timestamp": str(ts), "x-meetkit-signature": signature}
    assert verify_signature("s3cret", headers, body)
    assert hooks.verify("s3cret", str(ts), body, signature)
    assert not verify_signature("other", headers, body)
    assert not verify_signature("s3cret", headers, body + b" ")


# -- delivery against a real server -------------------------------------------------------------------


def test_events_arrive_signed_with_metadata_in_order_per_target(hooks_server: Server, receiver: Receiver) -> None:
    other = Receiver().start()
    try:
        app_id, secret = make_application(hooks_server, sessions_url=receiver.url, rooms_url=receiver.url)
        events = session_events(40)
        metadata = 'team=\u00e9t\u00e9; "quoted" 100%'
        room_id = emit(hooks_server, app_id, events, metadata=metadata, per_transaction=7)
        # A room with its own sessions URL: its events go there, not to the application's.
        emit(hooks_server, app_id, session_events(5), room_callbacks={"sessions_callback_url": other.url})
        emit(hooks_server, app_id, [("room:expired", {"room_id": room_id, "room_type": "instant",
                                                      "expires_at": NOW, "created_at": NOW})])
        hits = receiver.wait_for(lambda h: len(h) >= 41, timeout=30)
        other_hits = other.wait_for(lambda h: len(h) >= 5, timeout=30)
        time.sleep(0.3)
        assert len(receiver.snapshot()) == 41 and len(other.snapshot()) == 5
        assert participants(hits[:40]) == [f"p{i}" for i in range(40)]
        assert participants(other_hits) == [f"p{i}" for i in range(5)]
        keys = set()
        for hit, (name, _payload) in zip(hits, [*events, ("room:expired", {})], strict=True):
            assert verify_signature(secret, hit.headers, hit.body), hit.headers
            assert hit.headers["content-type"] == "application/json"
            assert hit.headers["x-meetkit-event"] == name
            body = json.loads(hit.body)
            assert body["event"] == name
            hooks.WEBHOOK_EVENT.validate_python(body)  # what arrives is the closed schema
            if name != "room:expired":  # emitted for another room, one without metadata
                assert unquote(hit.headers["x-meetkit-room-metadata"]) == metadata
            keys.add(hit.headers["x-meetkit-idempotency-key"])
        assert len(keys) == 41
        assert "x-meetkit-room-metadata" not in other_hits[0].headers
        assert "x-meetkit-room-metadata" not in hits[40].headers
        rows = wait_rows(hooks_server, app_id, lambda rs: all(r.status == "delivered" for r in rs), 10)
        assert len(rows) == 46 and all(r.attempts == 1 and r.delivered_at is not None for r in rows)
        # /metrics counts them (the server is shared with other tests of this module: at least these).
        scraped = httpx.get(hooks_server.base_url + "/metrics", verify=hooks_server.ssl, timeout=10).text
        assert (metric_sample(scraped, "meetkit_webhook_attempts_total", outcome="delivered") or 0) >= 46
        assert (metric_sample(scraped, "meetkit_webhook_attempt_seconds_count") or 0) >= 46
    finally:
        other.stop()


def test_a_transcript_ready_callback_follows_captions(hooks_server: Server, receiver: Receiver) -> None:
    from meetkit.actions import captions
    from meetkit.domain.transcript import Cue

    app_id, secret = make_application(hooks_server, sessions_url=receiver.url)
    room_id = emit(hooks_server, app_id, [])
    session_id = uuid.uuid4().hex

    async def go() -> tuple[int, int]:
        c = _container(hooks_server)
        try:
            async with c.sessions.begin() as db:
                db.add(t.Session(id=session_id, room_id=room_id, application_id=app_id, started_at=NOW, ended_at=NOW))
            nothing = await captions.do_transcript_ready(c, session_id)  # nothing said: no callback
            for i in range(3):
                await captions.do_add_cue(c, session_id, Cue("p1", "Sam", i * 2.0, i * 2.0 + 1.5, f"line {i}"))
            return nothing, await captions.do_transcript_ready(c, session_id)
        finally:
            await c.engine.dispose()

    assert run(go()) == (0, 3)
    hit = receiver.wait_for(lambda h: len(h) >= 1, timeout=30)[0]
    assert verify_signature(secret, hit.headers, hit.body)
    body = json.loads(hit.body)
    url = body.pop("url")  # on the public URL of whoever enqueued it (here this test's own container)
    assert url.endswith(f"/v1/meetings/sessions/{session_id}/transcript"), url
    assert body == {"event": "session:transcript:ready", "session_id": session_id, "room_id": room_id, "cues": 3}
    time.sleep(0.3)
    assert len(receiver.snapshot()) == 1


def test_a_receiver_that_fails_for_a_while_gets_every_event_once_after_dedup(hooks_server: Server) -> None:
    # First the target refuses connections (nothing listens), then it answers 500 a few times, then 204.
    probe = Receiver().start()
    port = probe.port
    probe.stop()
    answers = {"n": 0}

    def flaky(_hit: Hit) -> tuple[int, float] | None:
        answers["n"] += 1
        if answers["n"] <= 4:
            return 500, 0.0
        if answers["n"] == 5:
            return None  # drop the connection without answering
        if answers["n"] % 7 == 0:
            return 503, 0.0
        return 204, 0.0

    url = f"http://127.0.0.1:{port}/hook"
    app_id, secret = make_application(hooks_server, sessions_url=url)
    events = session_events(30)
    emit(hooks_server, app_id, events)
    wait_rows(hooks_server, app_id, lambda rs: rs and rs[0].attempts >= 2 and rs[0].status == "pending", 15)
    rows = deliveries(hooks_server, app_id)
    assert rows[0].last_error and "Connect" in rows[0].last_error
    receiver = Receiver(flaky, port=port).start()
    try:
        rows = wait_rows(hooks_server, app_id, lambda rs: all(r.status == "delivered" for r in rs), 60)
        hits = receiver.snapshot()
        assert len(hits) > 30  # some were sent more than once
        ok = [h for h in hits if h.status is not None and 200 <= h.status < 300]
        by_key: dict[str, Hit] = {}
        for hit in hits:
            assert verify_signature(secret, hit.headers, hit.body)
            first = by_key.setdefault(hit.headers["x-meetkit-idempotency-key"], hit)
            assert first.body == hit.body  # a retry is the same event
        assert len(by_key) == 30
        assert {r.idempotency_key for r in rows} == set(by_key)
        assert participants(ok) == [f"p{i}" for i in range(30)]  # in order, once each when accepted
        assert participants(list(by_key.values())) == [f"p{i}" for i in range(30)]
        assert rows[0].attempts >= 4
    finally:
        receiver.stop()


def test_a_slow_failing_target_does_not_delay_a_healthy_one(hooks_server: Server, receiver: Receiver) -> None:
    slow = Receiver(lambda _h: (500, 0.8)).start()  # slow, then an error, every time
    try:
        app_id, _ = make_application(hooks_server, sessions_url=receiver.url)
        emit(hooks_server, app_id, session_events(20), room_callbacks={"sessions_callback_url": slow.url})
        slow.wait_for(lambda h: len(h) >= 1, timeout=10)
        started = time.time()
        emit(hooks_server, app_id, session_events(20))
        hits = receiver.wait_for(lambda h: len(h) >= 20, timeout=10)
        assert max(h.at for h in hits) - started < 2.0
        assert participants(hits) == [f"p{i}" for i in range(20)]
        # The slow target still sees only its first event, again and again.
        assert {json.loads(h.body)["participant_id"] for h in slow.snapshot()} == {"p0"}
    finally:
        slow.stop()


def test_replay_from_the_cli_sends_the_same_event_again(hooks_server: Server, receiver: Receiver) -> None:
    app_id, secret = make_application(hooks_server, sessions_url=receiver.url)
    emit(hooks_server, app_id, session_events(1))
    first = receiver.wait_for(lambda h: len(h) == 1, timeout=10)[0]
    rows = wait_rows(hooks_server, app_id, lambda rs: rs[0].status == "delivered", 10)
    listed = cli(hooks_server, "webhooks", "list", "--status", "delivered", "--limit", "1000")
    assert listed.returncode == 0, listed.stderr
    lines = [json.loads(line) for line in listed.stdout.splitlines()]
    mine = [d for d in lines if d["id"] == rows[0].id]
    assert mine and mine[0]["status"] == "delivered" and mine[0]["event"] == "session:participant:joined"
    assert all(d["status"] == "delivered" for d in lines)
    assert "payload" not in mine[0]
    replay = cli(hooks_server, "webhooks", "replay", str(rows[0].id))
    assert replay.returncode == 0, replay.stderr
    assert json.loads(replay.stdout)["status"] in ("pending", "delivered")
    second = receiver.wait_for(lambda h: len(h) == 2, timeout=10)[1]
    assert second.headers["x-meetkit-idempotency-key"] == first.headers["x-meetkit-idempotency-key"]
    assert second.body == first.body and verify_signature(secret, second.headers, second.body)
    wait_rows(hooks_server, app_id, lambda rs: rs[0].status == "delivered" and rs[0].attempts == 1, 10)
    pending_again = cli(hooks_server, "webhooks", "replay", "999999999")
    assert pending_again.returncode == 1 and "could not find" in pending_again.stderr


def test_app_show_and_set_callbacks_cli(hooks_server: Server) -> None:
    app_id, secret = make_application(hooks_server)
    out = cli(hooks_server, "app", "set-callbacks", app_id, "--room-changed", "https://example.com/rooms",
              "--session-changed", "https://example.com/sessions")
    assert out.returncode == 0, out.stderr
    shown = json.loads(cli(hooks_server, "app", "show", app_id).stdout)
    assert shown == {"application_id": app_id, "name": "hooks", "room_changed_url": "https://example.com/rooms",
                     "session_changed_url": "https://example.com/sessions", "recording_changed_url": None,
                     "webhook_secret": secret, "embed_origins": None}
    cleared = cli(hooks_server, "app", "set-callbacks", app_id, "--room-changed", "")
    assert json.loads(cleared.stdout)["room_changed_url"] is None
    assert json.loads(cleared.stdout)["session_changed_url"] == "https://example.com/sessions"
    bad = cli(hooks_server, "app", "set-callbacks", app_id, "--room-changed", "ftp://x")
    assert bad.returncode == 1
    assert cli(hooks_server, "app", "show", str(uuid.uuid4())).returncode == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_private_targets_are_refused_unless_allowed(backend: str, tmp_path: Path, receiver: Receiver) -> None:
    srv = start_server(backend, tmp_path, {"MEETKIT_WEBHOOK_POLL_INTERVAL": "0.05"}, tls=False)
    try:
        app_id, _ = make_application(srv, sessions_url=receiver.url, rooms_url=f"http://localhost:{receiver.port}/x")
        emit(srv, app_id, [*session_events(2), ("room:expired", {"room_id": "r", "room_type": "instant",
                                                                "expires_at": NOW, "created_at": NOW})])
        rows = wait_rows(srv, app_id, lambda rs: len(rs) == 3 and all(r.status == "failed" for r in rs), 15)
        for row in rows:
            assert row.last_error is not None and "private, loopback or link-local" in row.last_error
            assert "MEETKIT_ALLOW_PRIVATE_CALLBACK_TARGETS" in row.last_error
        assert receiver.snapshot() == []
        log = srv.log_path.read_text()
        assert "refused" in log and "Guest" not in log and "p0" not in log  # no payloads in the log
    finally:
        stop_server(srv)


@pytest.mark.parametrize("backend", BACKENDS)
def test_sigkill_mid_delivery_then_restart_loses_nothing(backend: str, tmp_path: Path) -> None:
    receiver = Receiver(lambda _h: (204, 0.1)).start()  # 100 ms per event: the kill lands mid-queue
    srv = start_server(backend, tmp_path / "one", FAST_RETRIES, tls=False)
    restarted: Server | None = None
    try:
        app_id, secret = make_application(srv, sessions_url=receiver.url)
        emit(srv, app_id, session_events(40))
        receiver.wait_for(lambda h: len(h) >= 5, timeout=20)
        os.kill(srv.process.pid, signal.SIGKILL)
        srv.process.wait(timeout=10)
        rows = deliveries(srv, app_id)
        assert any(r.status == "pending" for r in rows), "the kill came too late to test anything"
        before = len(receiver.snapshot())
        restarted = start_server(backend, tmp_path / "two", FAST_RETRIES, database_url=srv.database_url, tls=False)
        rows = wait_rows(restarted, app_id, lambda rs: all(r.status == "delivered" for r in rs), 60)
        hits = receiver.snapshot()
        assert len(hits) > before
        firsts: dict[str, Hit] = {}
        for hit in hits:
            assert verify_signature(secret, hit.headers, hit.body)
            firsts.setdefault(hit.headers["x-meetkit-idempotency-key"], hit)
        assert len(firsts) == 40 == len(rows)
        assert participants(list(firsts.values())) == [f"p{i}" for i in range(40)]
    finally:
        receiver.stop()
        if restarted is not None:
            stop_server(restarted)  # drops the PostgreSQL database both servers used
        elif backend == "postgresql":
            from ..support import drop_pg_database
            drop_pg_database(srv.database_url)


# -- the worker's HTTP client, in this process ------------------------------------------------------


class ScriptedReceiver:
    """An HTTP/1.1 receiver on 127.0.0.1 (TLS when given a context) that sends the raw answers it is
    given, in turn (204 when they run out), and counts connections. An answer ending in ``CLOSE`` is
    followed by closing the connection; the answer ``DROP`` closes it without answering."""

    CLOSE = b"<close>"
    DROP = b"<drop>"

    def __init__(self, answers: list[bytes] | None = None, tls: ssl.SSLContext | None = None) -> None:
        self.answers = list(answers or [])
        self.tls = tls
        self.connections = 0
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.server_names: list[str | None] = []
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def __aenter__(self) -> ScriptedReceiver:
        if self.tls is not None:
            self.tls.sni_callback = lambda _sock, name, _ctx: self.server_names.append(name)
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self.tls)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:] if line)}
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.requests.append((lines[0], headers, body))
                answer = self.answers.pop(0) if self.answers else b"HTTP/1.1 204 No Content\r\n\r\n"
                if answer == self.DROP:
                    return
                writer.write(answer.removesuffix(self.CLOSE))
                await writer.drain()
                if answer.endswith(self.CLOSE):
                    return
        finally:
            self._writers.discard(writer)
            writer.close()


def _delivery(url: str, n: int = 0) -> Any:
    from meetkit.worker.webhooks import Delivery

    return Delivery(id=n, event="session:participant:joined", payload={"participant_id": f"p{n}"}, target_url=url,
                    ordering_key="k", idempotency_key=uuid.uuid4().hex, attempts=0, queued_at=NOW,
                    room_metadata=None, leased_until=NOW, secret="s3cret")


@pytest.fixture
async def worker_factory(tmp_path: Path) -> AsyncIterator[Any]:
    """Makes a WebhookWorker (not running) whose ``attempt`` the test calls; the settings are the test's."""
    from meetkit.app import build_container
    from meetkit.config import Settings
    from meetkit.worker.webhooks import WebhookWorker

    made: list[tuple[Any, WebhookWorker]] = []

    def make(*, allow_private: bool = True, tls: ssl.SSLContext | None = None) -> WebhookWorker:
        c = build_container(Settings(data_dir=tmp_path / "data", database_url=f"sqlite+aiosqlite:///{tmp_path}/w.db",
                                     allow_private_callback_targets=allow_private, webhook_timeout=2))
        worker = WebhookWorker(c, tls=tls)
        made.append((c, worker))
        return worker

    yield make
    for c, worker in made:
        worker.close()
        await c.engine.dispose()


async def test_https_targets_are_verified_and_pinned_to_the_checked_address(
        worker_factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import meetkit.worker.webhooks as worker_module
    from meetkit.worker import webhook_targets

    cert, key = make_tls_cert(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    lookups: list[str] = []

    async def resolve(host: str, port: int, **_kw: Any) -> list[Any]:  # the only DNS answer there is
        lookups.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", resolve)
    monkeypatch.setattr(webhook_targets, "non_public_reason", lambda _address: None)  # as if 127.0.0.1 were public
    async with ScriptedReceiver(tls=server_tls) as rx:
        url = f"https://localhost:{rx.port}/hook?x=1"
        trusting = worker_factory(allow_private=False, tls=ssl.create_default_context(cafile=str(cert)))
        for n in range(3):
            assert await trusting.attempt(_delivery(url, n)) == worker_module.Outcome(ok=True)
        # One connection, to the address that was checked (no second lookup), named for TLS by the URL's host.
        assert rx.connections == 1 and lookups == ["localhost"] * 3
        assert rx.server_names == ["localhost"]
        for line, headers, body in rx.requests:
            assert line == "POST /hook?x=1 HTTP/1.1"
            assert headers["host"] == f"localhost:{rx.port}" and headers["user-agent"] == "meetkit-webhooks"
            assert verify_signature("s3cret", headers, body)
        # A certificate that the default CA bundle does not vouch for is a failed attempt.
        outcome = await worker_factory(allow_private=False).attempt(_delivery(url))
        assert outcome == worker_module.Outcome(ok=False, error="ConnectError")
        assert len(rx.requests) == 3


async def test_answers_are_read_only_to_reuse_the_connection(worker_factory: Any) -> None:
    from meetkit.worker.webhooks import Outcome

    close, drop = ScriptedReceiver.CLOSE, ScriptedReceiver.DROP
    answers = [
        # connection 1
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",  # read: the connection is reused
        b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",  # read too
        b"HTTP/1.1 200 OK\r\n\r\nends when the connection does" + close,  # not read: closed
        # connection 2
        b"HTTP/1.1 204 No Content\r\n\r\n" + close,  # then the receiver closes the idle connection
        # connection 3
        b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 100000,  # too big to read: closed
        # connection 4
        drop,  # no answer on a new connection: a failed attempt
        # connection 5
        b"HTTP/1.1 302 Found\r\nLocation: http://elsewhere/\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
        drop,  # no answer on a kept-alive connection: sent again at once, on connection 6 (answered 204)
    ]
    async with ScriptedReceiver(answers) as rx:
        worker = worker_factory()
        url = f"http://127.0.0.1:{rx.port}/hook"
        outcomes = []
        for n in range(len(answers)):
            outcomes.append(await worker.attempt(_delivery(url, n)))
            await asyncio.sleep(0.02)  # lets a close by the receiver arrive before the next attempt
        assert outcomes == [Outcome(ok=True)] * 5 + [
            Outcome(ok=False, error="RemoteProtocolError"),
            Outcome(ok=False, error="HTTP 302 (redirects are not followed)"),
            Outcome(ok=False, error="HTTP 500"),
            Outcome(ok=True),
            Outcome(ok=True),
        ]
        assert rx.connections == 6
        assert [json.loads(body)["participant_id"] for _line, _headers, body in rx.requests] == [
            *(f"p{n}" for n in range(len(answers))), "p9"]
    # Nothing listens there any more.
    assert await worker.attempt(_delivery(url)) == Outcome(ok=False, error="ConnectError")
