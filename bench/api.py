"""Room creations per second and their latency, on SQLite and PostgreSQL.

    .venv/bin/python bench/api.py [--requests 3000] [--concurrency 8] [--backend sqlite|postgresql|both]

Starts a real `meetkit serve` on 127.0.0.1 (plain HTTP, one process), makes an application, signs the
JWTs up front (the client's RSA signing is not the server's cost), then POSTs /rooms with N requests
in flight and prints throughput and p50/p90/p99 latency. Aim: >= 500 creations/s, p99 <= 50 ms on SQLite.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support import Server, run, start_server, stop_server

from meetkit.actions.applications import do_create_application
from meetkit.app import build_container
from meetkit.client import MeetingsClient
from meetkit.config import Settings


def make_app(server: Server, folder: Path) -> tuple[str, str]:
    async def go() -> tuple[str, str]:
        c = build_container(Settings(data_dir=server.data_dir, database_url=server.database_url))
        try:
            made = await do_create_application(c, "bench", key_dir=folder)
        finally:
            await c.engine.dispose()
        return made.application_id, made.private_key_path.read_text()

    return run(go())


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    if length:
        await reader.readexactly(length)
    return status


async def fire(base_url: str, tokens: list[str], concurrency: int) -> tuple[float, list[float], int]:
    """POST /rooms once per token over ``concurrency`` keep-alive connections.

    A minimal HTTP/1.1 client (like wrk): the load generator shares the machine's two cores with the
    server, so it must cost as little as possible."""
    url = httpx.URL(base_url)
    host, port = url.host, url.port or 80
    body = b'{"display_name": "bench room"}'
    latencies: list[float] = []
    errors = 0
    queue: asyncio.Queue[str] = asyncio.Queue()
    for tok in tokens:
        queue.put_nowait(tok)

    async def worker() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while True:
                try:
                    tok = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                request = (
                    f"POST /v1/meetings/rooms HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {tok}\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
                ).encode() + body
                t0 = time.perf_counter()
                writer.write(request)
                status = await _read_response(reader)
                latencies.append(time.perf_counter() - t0)
                if status != 201:
                    errors += 1
        finally:
            writer.close()

    t0 = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(concurrency))), timeout=600)
    return time.perf_counter() - t0, latencies, errors


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] * 1000


def bench(backend: str, requests: int, concurrency: int) -> None:
    with tempfile.TemporaryDirectory(prefix=f"meetkit-bench-{backend}-") as tmp:
        folder = Path(tmp)
        # The room limit is lifted: the benchmark makes more rooms than one application may keep.
        server = start_server(backend, folder, {"MEETKIT_MAX_ROOMS_PER_APPLICATION": str(requests * 2)}, tls=False)
        try:
            app_id, key = make_app(server, folder)
            client = MeetingsClient(server.base_url, app_id, key)
            warm = [client.token() for _ in range(200)]
            tokens = [client.token() for _ in range(requests)]
            asyncio.run(fire(server.base_url, warm, concurrency))
            elapsed, lat, errors = asyncio.run(fire(server.base_url, tokens, concurrency))
        finally:
            stop_server(server)
    print(f"{backend:10s} room creations: {requests} in {elapsed:.2f} s = {requests / elapsed:7.1f}/s "
          f"(concurrency {concurrency}); latency p50 {pct(lat, 50):.1f} ms, p90 {pct(lat, 90):.1f} ms, "
          f"p99 {pct(lat, 99):.1f} ms; errors {errors}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = ap.parse_args()
    for backend in (["sqlite", "postgresql"] if args.backend == "both" else [args.backend]):
        bench(backend, args.requests, args.concurrency)


if __name__ == "__main__":
    main()
