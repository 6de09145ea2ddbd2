"""A deployment on loopback (issue 12): chat fan-out to one room's participants spread over two nodes,
and room creations per second through haproxy with two nodes against one.

    .venv/bin/python bench/cluster.py [--participants 500] [--messages 30] [--requests 3000]

Everything runs on this machine's two cores: the nodes, PostgreSQL, Redis, haproxy and the load
generators share them, so a second node adds no CPU here; the figures show what the relay and the
front cost, not how a deployment on several machines grows. Prints its figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.api import fire, make_app
from bench.join import pct as pct_s
from bench.join import receiver_process
from tests.cluster.conftest import Deployment
from tests.cluster.test_front import HAPROXY, _render
from tests.redis_server import start_redis
from tests.support import free_port

from meetkit.client import MeetingsClient

QUIET = {"MEETKIT_LOG_LEVEL": "warning", "MEETKIT_MAX_ROOMS_PER_APPLICATION": "1000000"}


def _front(folder: Path, d: Deployment) -> tuple[subprocess.Popen[bytes], str]:
    import httpx

    port = free_port()
    proc = subprocess.Popen([HAPROXY, "-db", "-f", str(_render(folder, d.nodes, port))],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("haproxy did not come up")


def creations(folder: Path, nodes: int, requests: int, concurrency: int) -> float:
    redis = start_redis(folder / "redis")
    d = Deployment(redis, folder, [f"node-{i + 1}" for i in range(nodes)], **QUIET)
    (folder / "front").mkdir()
    proc: subprocess.Popen[bytes] | None = None
    try:
        proc, base = _front(folder / "front", d)
        app_id, key = make_app(d.nodes[0], folder)
        client = MeetingsClient(base, app_id, key)
        asyncio.run(fire(base, [client.token() for _ in range(300)], concurrency))  # warm-up
        elapsed, lat, errors = asyncio.run(fire(base, [client.token() for _ in range(requests)], concurrency))
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=10)
        d.stop()
        redis.stop()
    rate = requests / elapsed
    print(f"  {nodes} node(s) behind haproxy: {rate:7.1f} room creations/s (concurrency {concurrency}); "
          f"p50 {pct_ms(lat, 50):.1f} ms, p99 {pct_ms(lat, 99):.1f} ms; errors {errors}", flush=True)
    return rate


def pct_ms(values: list[float], q: float) -> float:
    return pct_s(values, q) * 1000


async def _fanout(d: Deployment, code: str, participants: int, messages: int, interval: float,
                  receivers: int) -> list[float]:
    import websockets

    urls = [n.base_url.replace("http", "ws", 1) + f"/_meetkit/ws/{code}" for n in d.nodes]
    sender = await asyncio.wait_for(websockets.connect(urls[0], max_size=2**22, max_queue=None), 10)
    await sender.send(json.dumps({"type": "hello", "v": 1, "name": "Sender", "mic": False, "camera": False}))
    async with asyncio.timeout(10):
        while json.loads(await sender.recv())["type"] != "admitted":
            pass
    ctx = mp.get_context("spawn")
    procs: list[tuple[Any, Any]] = []
    rest, first = participants - 1, 1
    for k in range(receivers):  # half the receiver processes on each node: half the sockets are relayed
        n = rest // receivers + (1 if k < rest % receivers else 0)
        a, b = ctx.Pipe()
        proc = ctx.Process(target=receiver_process, args=(urls[k % len(urls)], n, first, b, messages), daemon=True)
        proc.start()
        procs.append((proc, a))
        first += n
    loop = asyncio.get_running_loop()
    try:
        for _, pipe in procs:
            said = pipe.recv() if await loop.run_in_executor(None, pipe.poll, 180) else ("error", "no answer in 180 s")
            if said[0] != "ready":
                raise RuntimeError(f"a receiver process did not get its participants in: {said[1]}")
        await asyncio.sleep(1.0)
        deadline = time.time() + messages * interval + 15
        for _, pipe in procs:
            pipe.send(deadline)
        start = time.perf_counter()
        for seq in range(messages):
            await asyncio.sleep(max(0.0, start + seq * interval - time.perf_counter()))
            await sender.send(json.dumps({"type": "chat.send", "text": f"bench {seq} {time.time():.6f}"}))
        lat: list[float] = []
        for _, pipe in procs:
            if not await loop.run_in_executor(None, pipe.poll, max(1.0, deadline - time.time() + 10)):
                raise RuntimeError("a receiver process sent no results")
            done = pipe.recv()
            if done[0] != "done":
                raise RuntimeError(f"a receiver failed: {done[1]}")
            lat += [x for _, x in done[1]]
        return lat
    finally:
        await asyncio.wait_for(sender.close(), 5)
        for proc, _ in procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()


def fanout(folder: Path, participants: int, messages: int, interval: float, receivers: int) -> None:
    env = {**QUIET, "MEETKIT_MAX_PARTICIPANTS": str(participants + 10),
           "MEETKIT_MAX_SOCKETS_PER_ADDRESS": str(participants + 10),
           "MEETKIT_SOCKET_OPENS_BURST": str(participants + 10),
           "MEETKIT_SOCKET_CHAT_RATE": str(max(5.0, 2 / interval)), "MEETKIT_SOCKET_CHAT_BURST": str(messages + 10)}
    redis = start_redis(folder / "redis")
    d = Deployment(redis, folder, ["node-a", "node-b"], **env)
    try:
        app_id, key = make_app(d.nodes[0], folder)
        with MeetingsClient(d.nodes[0].base_url, app_id, key) as client:
            code = client.create_room({"display_name": "fan-out"})["meeting_code"]
        lat = asyncio.run(asyncio.wait_for(_fanout(d, code, participants, messages, interval, receivers),
                                           300 + messages * interval))
    finally:
        d.stop()
        redis.stop()
    expected = (participants - 1) * messages
    print(f"fan-out over 2 nodes: {participants} participants (sender and half the receivers on node A, half on "
          f"node B, relayed), {messages} messages {interval * 1000:.0f} ms apart; {len(lat)} of {expected} "
          f"deliveries: p50 {pct_ms(lat, 50):.1f} ms, p90 {pct_ms(lat, 90):.1f} ms, p99 {pct_ms(lat, 99):.1f} ms "
          f"(aim <= 50 ms)", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--participants", type=int, default=500)
    ap.add_argument("--messages", type=int, default=30)
    ap.add_argument("--interval", type=float, default=0.2)
    ap.add_argument("--receivers", type=int, default=4)
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--only", choices=["fanout", "creations"])
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="meetkit-bench-cluster-") as tmp:
        folder = Path(tmp)
        if args.only in (None, "fanout"):
            fanout(folder / "fanout", args.participants, args.messages, args.interval, args.receivers)
        if args.only in (None, "creations"):
            print("room creations through haproxy:", flush=True)
            one = creations(folder / "one", 1, args.requests, args.concurrency)
            two = creations(folder / "two", 2, args.requests, args.concurrency)
            print(f"  2 nodes / 1 node: {two / one:.2f} x (aim >= 1.6 x on machines with cores to spare; here "
                  f"both share 2 cores with PostgreSQL, Redis, haproxy and the load generator)")


if __name__ == "__main__":
    main()
