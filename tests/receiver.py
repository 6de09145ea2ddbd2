"""A real HTTP receiver for webhooks on 127.0.0.1, running its own event loop in a thread.

It answers each POST as ``behaviour(hit)`` says: a status and a delay, or ``None`` to drop the
connection without answering. Every request is recorded (headers, body, arrival time, answer)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Hit:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.time() on arrival
    status: int | None = None  # what the receiver answered (None: dropped)


Behaviour = Callable[[Hit], tuple[int, float] | None]


def always_ok(_hit: Hit) -> tuple[int, float]:
    return 204, 0.0


@dataclass
class Receiver:
    behaviour: Behaviour = always_ok
    port: int = 0
    hits: list[Hit] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> Receiver:
        ready = threading.Event()

        def main() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop

            async def serve() -> None:
                self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, reuse_address=True)
                self.port = self._server.sockets[0].getsockname()[1]
                ready.set()

            loop.run_until_complete(serve())
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=main, daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("receiver did not start")
        return self

    def stop(self) -> None:
        loop, server = self._loop, self._server
        if loop is None or server is None:
            return

        async def close() -> None:
            server.close()
            for writer in list(self._writers):  # a stopped receiver keeps no connection open
                writer.close()
            if self._handlers:  # closed connections end their handlers
                await asyncio.wait(list(self._handlers), timeout=5)
            await server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._loop = self._server = None

    def snapshot(self) -> list[Hit]:
        with self._lock:
            return list(self.hits)

    def wait_for(self, predicate: Callable[[list[Hit]], bool], timeout: float) -> list[Hit]:
        deadline = time.monotonic() + timeout
        while True:
            hits = self.snapshot()
            if predicate(hits):
                return hits
            if time.monotonic() > deadline:
                raise AssertionError(f"receiver: condition not met in {timeout} s; {len(hits)} hits")
            time.sleep(0.02)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)  # type: ignore[arg-type]
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1]
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        k, v = line.split(":", 1)
                        headers[k.strip().lower()] = v.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                hit = Hit(path, headers, body, time.time())
                answer = self.behaviour(hit)
                with self._lock:
                    self.hits.append(hit)
                if answer is None:
                    return
                status, delay = answer
                if delay:
                    await asyncio.sleep(delay)
                hit.status = status
                writer.write(f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n".encode())
                await writer.drain()
        except ConnectionError:
            return
        finally:
            self._writers.discard(writer)
            if task is not None:
                self._handlers.discard(task)  # type: ignore[arg-type]
            writer.close()
