"""Soak: a full meeting for a long time, with churn, steady chat and one abusive guest, against a real
`meetkit serve` (plain HTTP, SQLite, media off) with its default limits.

    .venv/bin/python bench/soak.py [--participants 250] [--minutes 10] [--chat-rate 20] [--churn 2]
                                   [--workers 4] [--burst 10000] [--burst-every 30]

- `--participants` WebSocket participants join one room (join_approval_level "none"), spread over
  `--workers` processes and over 25 loopback source addresses (127.0.0.10-34: real users come from
  many addresses; the per-address socket cap is left at its default).
- For `--minutes`: `--churn` participants a second leave (a `leave`, or a dropped socket, in turns)
  and as many new ones join; `--chat-rate` chat messages a second in all, each from a random present
  participant, each carrying its send time; one observer socket per worker takes the latency of every
  message (arrival - send, one clock: time.time()).
- An abusive guest joins and every `--burst-every` seconds sends `--burst` `hand` frames back to back;
  the server may rate-limit it and close it (4429), and it comes back.
- Printed: sockets closed that should not have been (every close the client did not ask for, of
  anybody but the abuser; aim: 0), `rate_limited` errors to well-behaved sockets (aim: 0), the abuser's
  closes, joins and leaves, chat sent and received, chat latency p50/p99, the server's RSS after the
  first joins and at the end (aim: within 10 %), and its CPU.

Everything stays on 127.0.0.0/8 and every wait is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import websockets
from bench.join import cpu_seconds, make_room, pct, server
from tests.support import Server

ADDRESSES = [f"127.0.0.{10 + i}" for i in range(25)]
RSS_AIM = 0.10
NORMAL_CLOSES = {1000}  # what the server closes with after our own `leave`


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


@dataclass
class Tally:
    joins: int = 0
    leaves: int = 0
    wrongful: list[int | None] = field(default_factory=list)
    limited: int = 0
    sent: int = 0
    latencies: list[float] = field(default_factory=list)


class Member:
    """One well-behaved participant: reads every frame; a close it did not ask for is wrongful."""

    def __init__(self, ws: Any, tally: Tally, observer: bool) -> None:
        self.ws, self.tally, self.observer = ws, tally, observer
        self.leaving = False
        self.reader = asyncio.create_task(self._read())

    @classmethod
    async def join(cls, url: str, name: str, address: str, tally: Tally, observer: bool = False) -> Member:
        ws = await asyncio.wait_for(websockets.connect(url, max_size=2**22, local_addr=(address, 0)), 20)
        await ws.send(json.dumps({"type": "hello", "v": 1, "name": name, "mic": False, "camera": False}))
        while True:  # welcome, then admitted
            frame = json.loads(await asyncio.wait_for(ws.recv(), 20))
            if frame["type"] == "admitted":
                break
            if frame["type"] in ("denied", "error"):
                raise RuntimeError(f"{name} was not admitted: {frame}")
        tally.joins += 1
        return cls(ws, tally, observer)

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                if self.observer and '"chat.message"' in raw:
                    text = json.loads(raw)["text"]
                    if text.startswith("soak "):
                        self.tally.latencies.append(time.time() - float(text.split()[1]))
                elif '"rate_limited"' in raw:
                    self.tally.limited += 1
        except websockets.ConnectionClosed:
            pass
        if not self.leaving:
            self.tally.wrongful.append(self.ws.close_code)

    async def chat(self, n: int) -> None:
        await self.ws.send(json.dumps({"type": "chat.send", "text": f"soak {time.time():.6f} #{n}"}))
        self.tally.sent += 1

    async def leave(self, drop: bool) -> None:
        self.leaving = True
        if drop:  # the network goes away: no leave, no close handshake
            self.ws.transport.abort()
        else:
            await self.ws.send(json.dumps({"type": "leave"}))
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.shield(self.reader), 10)
        self.tally.leaves += 1


async def _worker(url: str, index: int, count: int, minutes: float, chat_rate: float, churn: float,
                  pipe: Connection) -> None:
    tally = Tally()
    observer = await Member.join(url, f"Observer {index}", ADDRESSES[index % len(ADDRESSES)], tally, observer=True)
    members: list[Member] = []
    for i in range(count - 1):
        members.append(await Member.join(url, f"P{index}-{i}", ADDRESSES[(index + i) % len(ADDRESSES)], tally))
    pipe.send("joined")
    pipe.recv()  # everybody is in: go
    end = time.monotonic() + minutes * 60
    next_chat = next_churn = time.monotonic()
    serial, drop = 0, False
    while time.monotonic() < end:
        now = time.monotonic()
        if now >= next_chat and members:
            serial += 1
            await random.choice(members).chat(serial)
            next_chat += 1 / chat_rate
        if now >= next_churn and members:
            gone = members.pop(random.randrange(len(members)))
            await gone.leave(drop)
            drop = not drop
            serial += 1
            members.append(await Member.join(url, f"P{index}-n{serial}", random.choice(ADDRESSES), tally))
            next_churn += 1 / churn
        await asyncio.sleep(max(0.0, min(next_chat, next_churn) - time.monotonic()))
    await asyncio.sleep(2)  # the last messages arrive
    for m in [*members, observer]:
        await m.leave(False)
    pipe.send(tally.__dict__)


def worker(url: str, index: int, count: int, minutes: float, chat_rate: float, churn: float,
           pipe: Connection) -> None:
    asyncio.run(_worker(url, index, count, minutes, chat_rate, churn, pipe))


async def abuser(url: str, burst: int, every: float, stop: asyncio.Event) -> dict[str, int]:
    """A guest who sends ``burst`` hand frames back to back every ``every`` seconds, and comes back
    whenever the server closes it."""
    out = {"bursts": 0, "closed": 0, "limited": 0}
    while not stop.is_set():
        try:
            async with websockets.connect(url, max_size=2**22, local_addr=("127.0.0.99", 0)) as ws:
                await ws.send(json.dumps({"type": "hello", "v": 1, "name": "Abuser", "mic": False, "camera": False}))
                reader = asyncio.create_task(_count_limited(ws, out))
                while not stop.is_set() and not reader.done():
                    frames = [json.dumps({"type": "hand", "raised": i % 2 == 0}) for i in range(burst)]
                    for frame in frames:
                        await ws.send(frame)
                    out["bursts"] += 1
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), every)
                reader.cancel()
        except (websockets.ConnectionClosed, OSError):
            pass
        if not stop.is_set():
            out["closed"] += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1)
    return out


async def _count_limited(ws: Any, out: dict[str, int]) -> None:
    with contextlib.suppress(websockets.ConnectionClosed):
        async for raw in ws:
            if '"rate_limited"' in raw:
                out["limited"] += 1


async def _abuse_for(url: str, burst: int, every: float, seconds: float) -> dict[str, int]:
    stop = asyncio.Event()
    task = asyncio.create_task(abuser(url, burst, every, stop))
    await asyncio.sleep(seconds)
    stop.set()
    return await asyncio.wait_for(task, 30)


def soak(args: argparse.Namespace) -> int:
    # A dropped socket keeps its place for the resume grace (20 s), so the room holds the dropped ones
    # of the last 20 s besides the participants: room enough for them, or joins are denied "full".
    env = {"MEETKIT_MEDIA_MODE": "off", "MEETKIT_LOG_LEVEL": "warning",
           "MEETKIT_MAX_PARTICIPANTS": str(args.participants + int(args.churn / 2 * 20) + 20)}
    with tempfile.TemporaryDirectory() as tmp, server(Path(tmp), env) as srv:
        return _run(srv, Path(tmp), args)


def _run(srv: Server, folder: Path, args: argparse.Namespace) -> int:
    room = make_room(srv, folder)
    url = srv.base_url.replace("http", "ws", 1) + f"/_meetkit/ws/{room['meeting_code']}"
    per = [args.participants // args.workers + (1 if i < args.participants % args.workers else 0)
           for i in range(args.workers)]
    ctx = mp.get_context("spawn")
    pipes, procs = [], []
    for i, count in enumerate(per):
        mine, theirs = ctx.Pipe()
        p = ctx.Process(target=worker, args=(url, i, count, args.minutes, args.chat_rate / args.workers,
                                             args.churn / args.workers, theirs), daemon=True)
        p.start()
        pipes.append(mine)
        procs.append(p)
    t0 = time.monotonic()
    for pipe in pipes:
        if not pipe.poll(300):
            raise SystemExit("participants did not all join within 300 s")
        pipe.recv()
    print(f"soak: {args.participants} participants joined in {time.monotonic() - t0:.1f} s")
    pid = srv.process.pid
    rss_start, cpu_start = rss_bytes(pid), cpu_seconds(pid)
    for pipe in pipes:
        pipe.send("go")
    abuse = asyncio.run(_abuse_for(url, args.burst, args.burst_every, args.minutes * 60))
    tallies = []
    for pipe in pipes:
        if not pipe.poll(120):
            raise SystemExit("a worker did not finish")
        tallies.append(pipe.recv())
    for p in procs:
        p.join(10)
    rss_end, cpu = rss_bytes(pid), cpu_seconds(pid) - cpu_start
    wrongful = [c for t in tallies for c in t["wrongful"]]
    lat = sorted(x for t in tallies for x in t["latencies"])
    growth = (rss_end - rss_start) / rss_start if rss_start else 0.0
    print(f"soak: {args.minutes:g} min, joins {sum(t['joins'] for t in tallies)}, "
          f"leaves {sum(t['leaves'] for t in tallies)}, chat sent {sum(t['sent'] for t in tallies)}, "
          f"received by observers {len(lat)}")
    print(f"soak: abuser bursts {abuse['bursts']} x {args.burst} frames, rate_limited answers {abuse['limited']}, "
          f"closed by the server {abuse['closed']}")
    print(f"soak: wrongful disconnects {len(wrongful)} {sorted(set(wrongful), key=str) if wrongful else ''}"
          f"(aim 0); rate_limited to well-behaved sockets {sum(t['limited'] for t in tallies)} (aim 0)")
    if lat:
        print(f"soak: chat latency p50 {pct(lat, 50) * 1000:.1f} ms, p99 {pct(lat, 99) * 1000:.1f} ms, "
              f"max {lat[-1] * 1000:.1f} ms")
    print(f"soak: server RSS {rss_start / 2**20:.1f} MiB after the joins, {rss_end / 2**20:.1f} MiB at the end "
          f"({growth * 100:+.1f} %, aim within {RSS_AIM * 100:.0f} %); server CPU {cpu:.1f} s "
          f"({cpu / (args.minutes * 60) * 100:.0f} % of one core)")
    return 0 if not wrongful and abs(growth) <= RSS_AIM else 1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--participants", type=int, default=250)
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--chat-rate", type=float, default=20, help="chat messages a second, in all")
    ap.add_argument("--churn", type=float, default=2, help="leaves (and as many joins) a second, in all")
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--burst", type=int, default=10_000, help="hand frames in one burst of the abuser")
    ap.add_argument("--burst-every", type=float, default=30)
    args = ap.parse_args()
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(soak(args))


if __name__ == "__main__":
    main()
