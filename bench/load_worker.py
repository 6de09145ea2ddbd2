"""One process of synthetic participants for bench/room_load.py, driven over a pipe.

Commands (tuples) and answers:
- ("publish", base, code, names, size, host_token|None) -> ("ok", [(joined_in, feed)])
- ("receive", base, code, names, width, height) -> ("ok", [first video s after opening the socket | None])
- ("sample",) -> ("ok", {"cpu": s, "receivers": [{bytes, packets, received, lost, heard, video, audio}]})
- ("leave",) -> ("ok", None)
Any failure -> ("error", text). Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

JOIN_LIMIT = 60.0  # s for one participant to be up


async def _main(pipe: Connection) -> None:
    from tests.synthetic import SyntheticPublisher, SyntheticReceiver, loopback_ice

    loopback_ice()
    publishers: list[SyntheticPublisher] = []
    receivers: list[SyntheticReceiver] = []
    loop = asyncio.get_running_loop()

    async def first_video(r: SyntheticReceiver) -> float | None:
        deadline = loop.time() + JOIN_LIMIT
        while loop.time() < deadline:
            if (t := r.first_video_after_open()) is not None:
                return t
            await asyncio.sleep(0.02)
        return None

    async def receive(base: str, code: str, name: str, width: int, height: int) -> float | None:
        r = await SyntheticReceiver.join(base, code, name, timeout=JOIN_LIMIT)
        receivers.append(r)
        await r.view(width=width, height=height)
        return await first_video(r)

    async def publish(sem: asyncio.Semaphore, base: str, code: str, name: str, size: str,
                      token: str | None) -> SyntheticPublisher:
        async with sem:
            return await SyntheticPublisher.join(base, code, name, size=size, timeout=JOIN_LIMIT, host_token=token)

    while True:
        if not await loop.run_in_executor(None, pipe.poll, 3600):
            return
        cmd = pipe.recv()
        try:
            if cmd[0] == "publish":
                _, base, code, names, size, token = cmd
                sem = asyncio.Semaphore(4)  # a person joins at a time, not a stampede of 25 offers

                new = list(await asyncio.gather(*(publish(sem, base, code, n, size, token if i == 0 else None)
                                                  for i, n in enumerate(names))))
                publishers.extend(new)
                pipe.send(("ok", [(p.joined_in, p.feed) for p in new]))
            elif cmd[0] == "receive":
                _, base, code, names, width, height = cmd
                firsts = await asyncio.gather(*(receive(base, code, n, width, height) for n in names))
                pipe.send(("ok", list(firsts)))
            elif cmd[0] == "sample":
                out = []
                for r in receivers:
                    s = await r.stats()
                    out.append({"bytes": sum(c.bytes for c in r.counts.values()),
                                "packets": sum(c.packets for c in r.counts.values()),
                                "received": s["received"], "lost": s["lost"], "heard": r.heard(),
                                "video": sum(1 for c in r.counts.values() if c.kind == "video" and c.packets),
                                "errors": len(r.errors), "at": time.monotonic()})
                pipe.send(("ok", {"cpu": time.process_time(), "receivers": out}))
            elif cmd[0] == "leave":
                await asyncio.gather(*(asyncio.wait_for(x.leave(), 20) for x in [*receivers, *publishers]),
                                     return_exceptions=True)
                pipe.send(("ok", None))
                return
        except Exception as exc:
            pipe.send(("error", f"{type(exc).__name__}: {exc}"))


def worker(pipe: Connection) -> None:
    asyncio.run(_main(pipe))


class Worker:
    """The benchmark's side of one worker process."""

    def __init__(self, ctx: Any) -> None:
        self.pipe, child = ctx.Pipe()
        self.proc = ctx.Process(target=worker, args=(child,), daemon=True)
        self.proc.start()

    def send(self, *cmd: Any) -> None:
        self.pipe.send(cmd)

    def result(self, timeout: float) -> Any:
        if not self.pipe.poll(timeout):
            raise TimeoutError(f"a worker gave no answer within {timeout:.0f} s")
        status, value = self.pipe.recv()
        if status != "ok":
            raise RuntimeError(f"a worker failed: {value}")
        return value

    def call(self, timeout: float, *cmd: Any) -> Any:
        self.send(*cmd)
        return self.result(timeout)

    def stop(self) -> None:
        self.proc.join(timeout=10)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(timeout=5)
