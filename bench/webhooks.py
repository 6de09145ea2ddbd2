"""Webhook deliveries per second and event-to-receiver latency, on SQLite and PostgreSQL.

    .venv/bin/python bench/webhooks.py [--events 3000] [--targets 8] [--rate 200] [--backend sqlite|postgresql|both]

Runs meetkit's delivery worker (worker/webhooks.py, the one `meetkit serve` starts) in this process
against a real database, and a real HTTP receiver on 127.0.0.1 (tests/receiver.py, in a thread).
Events go into the outbox with `enqueue_event` in transactions, the way actions will write them, so
the worker is woken by the after-commit doorbell as in the server.

1. Throughput: `--events` events over `--targets` target URLs are committed (10 per transaction) while
   the worker runs; deliveries/s = events / (last arrival - first commit). Also counted: events that
   first arrived before an earlier event of their target ("out of order", must be 0).
2. Latency: events are committed one per transaction at `--rate` per second, round-robin over the
   targets; latency = arrival at the receiver - commit. Prints p50/p90/p99.
Aim: >= 500 deliveries/s, p99 <= 100 ms on loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.receiver import Receiver
from tests.support import create_pg_database, drop_pg_database

from meetkit.actions.applications import do_create_application
from meetkit.actions.webhooks import enqueue_event
from meetkit.app import build_container
from meetkit.config import Settings
from meetkit.container import Container
from meetkit.storage import migrate
from meetkit.storage import tables as t
from meetkit.worker.webhooks import WebhookWorker


def out_of_order(arrived: dict[str, float], targets: int) -> int:
    """Events (``t<i>``, target ``i % targets``) that arrived before an earlier one of their target did."""
    last = [-1] * targets
    late = 0
    for pid in arrived:  # in the order of their first arrival
        i = int(pid[1:])
        if i < last[i % targets]:
            late += 1
        last[i % targets] = max(last[i % targets], i)
    return late


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] * 1000


async def make_rooms(c: Container, receiver: Receiver, targets: int) -> tuple[str, list[t.Room]]:
    made = await do_create_application(c, "bench", public_key_pem=_public_key())
    now = datetime.now(UTC)
    rooms = []
    async with c.sessions.begin() as db:
        for i in range(targets):
            room = t.Room(
                id=str(uuid.uuid4()), application_id=made.application_id, display_name="bench", meta="bench",
                type="instant", expires_at=now + timedelta(minutes=10), expire_after_use=False, theme_id=None,
                join_approval_level="none", recording_options={}, initial_join_options={},
                callback_urls={"sessions_callback_url": f"{receiver.url}?target={i}"}, available_features={},
                ui_settings={}, meeting_code=str(uuid.uuid4().int)[:9], host_token=uuid.uuid4().hex,
                is_available=True, created_at=now)
            db.add(room)
            rooms.append(room)
    return made.application_id, rooms


def _public_key() -> str:
    from meetkit.actions.applications import generate_key_pair

    return generate_key_pair()[1]


def payload(room: t.Room, participant: str) -> dict[str, object]:
    return {"participant_id": participant, "session_id": "bench", "room_id": room.id, "name": "Bench",
            "type": "guest", "is_host": False}


async def emit(c: Container, app_id: str, batch: list[tuple[t.Room, str]]) -> float:
    async with c.sessions.begin() as db:
        app = await db.get(t.Application, app_id)
        assert app is not None
        for room, participant in batch:
            await enqueue_event(db, app, room, "session:participant:joined", payload(room, participant),
                                now=c.clock.now())
    return time.time()


async def wait_arrivals(receiver: Receiver, ids: set[str], timeout: float) -> dict[str, float]:
    deadline = time.monotonic() + timeout
    arrived: dict[str, float] = {}
    seen = 0
    while True:
        hits = receiver.snapshot()
        for hit in hits[seen:]:  # each body is parsed once: the bench must not eat the worker's CPU
            pid = json.loads(hit.body)["participant_id"]
            if pid in ids:
                arrived.setdefault(pid, hit.at)
        seen = len(hits)
        if len(arrived) == len(ids) or time.monotonic() > deadline:
            return arrived
        await asyncio.sleep(0.05)


async def run_bench(backend: str, url: str, folder: Path, events: int, targets: int, rate: float) -> None:
    settings = Settings(data_dir=folder / "data", database_url=url, allow_private_callback_targets=True)
    c = build_container(settings)
    receiver = Receiver().start()
    await migrate.upgrade(c.engine)
    worker = asyncio.create_task(WebhookWorker(c).run())
    try:
        app_id, rooms = await make_rooms(c, receiver, targets)

        # 1. throughput
        ids = [f"t{i}" for i in range(events)]
        t0 = time.time()
        for start in range(0, events, 10):
            await emit(c, app_id, [(rooms[i % targets], ids[i]) for i in range(start, min(start + 10, events))])
        arrived = await wait_arrivals(receiver, set(ids), timeout=300)
        elapsed = max(arrived.values()) - t0
        missing = events - len(arrived)
        late = out_of_order(arrived, targets)

        # 2. latency at a steady rate
        lat: list[float] = []
        n = max(200, int(rate * 5))
        committed: dict[str, float] = {}
        start_at = time.monotonic()
        for i in range(n):
            await asyncio.sleep(max(0.0, start_at + i / rate - time.monotonic()))
            pid = f"l{i}"
            committed[pid] = await emit(c, app_id, [(rooms[i % targets], pid)])
        got = await wait_arrivals(receiver, set(committed), timeout=120)
        lat = [got[p] - committed[p] for p in got]
        missing += n - len(got)
    finally:
        worker.cancel()
        await asyncio.gather(worker, return_exceptions=True)
        receiver.stop()
        await c.engine.dispose()
    print(f"{backend:10s} deliveries: {events} in {elapsed:.2f} s = {events / elapsed:7.1f}/s ({targets} targets); "
          f"latency at {rate:g}/s: p50 {pct(lat, 50):.1f} ms, p90 {pct(lat, 90):.1f} ms, p99 {pct(lat, 99):.1f} ms; "
          f"missing {missing}, out of order {late}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=3000)
    ap.add_argument("--targets", type=int, default=8)
    ap.add_argument("--rate", type=float, default=200.0, help="events per second in the latency phase")
    ap.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = ap.parse_args()
    for backend in (["sqlite", "postgresql"] if args.backend == "both" else [args.backend]):
        with tempfile.TemporaryDirectory(prefix=f"meetkit-bench-hooks-{backend}-") as tmp:
            folder = Path(tmp)
            url = create_pg_database() if backend == "postgresql" else f"sqlite+aiosqlite:///{folder / 'meetkit.db'}"
            try:
                asyncio.run(run_bench(backend, url, folder, args.events, args.targets, args.rate))
            finally:
                if backend == "postgresql":
                    drop_pg_database(url)


if __name__ == "__main__":
    main()
