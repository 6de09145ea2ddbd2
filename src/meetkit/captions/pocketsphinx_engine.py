"""The default engine: pocketsphinx, offline, English only (the model its wheel carries).

Accuracy is modest and it costs CPU (about 0.25 s per second of speech on one core here, bench/captions.py).
Decoding runs in worker processes of our own (captions/sphinx_worker.py, one per core, started when first
needed): in a thread it held the GIL and stalled the event loop of every meeting on the node. A decoder adapts
to its speaker as it goes (cepstral mean): each stream keeps one for the whole call, in one worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import sys
from typing import Any

from .engine import (
    BYTES_PER_SECOND,
    EngineFailure,
    FailureCallback,
    Hypothesis,
    ResultCallback,
    SpeechStream,
    StreamBase,
)
from .sphinx_worker import AUDIO, FINISH, OPEN, REQUEST, RESPONSE

log = logging.getLogger(__name__)

BATCH_BYTES = BYTES_PER_SECOND // 2  # audio sent to the worker at once: results keep flowing under backlog
CLOSE_TIMEOUT = 15.0  # a full queue (10 s) decodes in ~2.5 s; a decoder loads in ~0.5 s
CALL_TIMEOUT = 30.0  # a worker that answers nothing for this long is stuck: its streams fail


class Worker:
    """One ``sphinx_worker`` process: requests written in order, answers matched by request id."""

    def __init__(self) -> None:
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._waiting: dict[int, asyncio.Future[Any]] = {}  # of the current process (a new one, a new dict)
        self._ids = itertools.count(1)
        self._starting = asyncio.Lock()
        self.streams = 0  # open streams on it (the engine puts a new one on the least busy worker)

    async def _ensure(self) -> asyncio.subprocess.Process:
        async with self._starting:
            if self._process is None or self._process.returncode is not None:
                self._process = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "meetkit.captions.sphinx_worker", stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
                self._waiting = {}
                self._reader = asyncio.get_running_loop().create_task(
                    self._read(self._process, self._waiting), name="captions-sphinx-reader")
            return self._process

    async def _read(self, process: asyncio.subprocess.Process, waiting: dict[int, asyncio.Future[Any]]) -> None:
        assert process.stdout is not None
        try:
            while True:
                request, length = RESPONSE.unpack(await process.stdout.readexactly(RESPONSE.size))
                body = json.loads(await process.stdout.readexactly(length))
                future = waiting.pop(request, None)
                if future is not None and not future.done():
                    future.set_result(body)
        except (asyncio.IncompleteReadError, ConnectionError, ValueError) as exc:
            if self._process is process:  # not closed by us: it died, or said what is not the protocol
                log.warning("captions: a pocketsphinx worker stopped (%s)", type(exc).__name__)
        finally:
            _kill(process)  # a worker we cannot read is of no use: the next call starts another
            if self._process is process:
                self._process = None
            for future in waiting.values():
                if not future.done():
                    future.set_exception(EngineFailure("unreachable", "the speech recogniser stopped"))
            waiting.clear()

    async def call(self, op: int, stream: int, payload: bytes = b"") -> list[Hypothesis]:
        process = await self._ensure()
        assert process.stdin is not None
        request = next(self._ids)
        waiting = self._waiting
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        waiting[request] = future
        if self._process is not process:  # it died between _ensure and now: nobody would answer
            waiting.pop(request, None)
            raise EngineFailure("unreachable", "the speech recogniser stopped")
        try:
            process.stdin.write(REQUEST.pack(request, op, stream, len(payload)) + payload)
            await process.stdin.drain()
            body = await asyncio.wait_for(future, CALL_TIMEOUT)
        except (ConnectionError, BrokenPipeError) as exc:
            raise EngineFailure("unreachable", "the speech recogniser stopped") from exc
        except TimeoutError as exc:
            _kill(process)  # stuck: its other streams fail too (the reader), and the next call starts afresh
            raise EngineFailure("timeout", "the speech recogniser did not answer in time") from exc
        finally:
            waiting.pop(request, None)
        if isinstance(body, dict):
            raise EngineFailure("bad_reply", f"the speech recogniser failed ({body.get('error', 'unknown')})")
        return [Hypothesis(str(text), bool(final), float(start), float(end)) for text, final, start, end in body]

    async def close(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()  # the worker ends when its stdin does
        try:
            await asyncio.wait_for(process.wait(), 5)
        except TimeoutError:
            process.kill()
            await process.wait()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)


def _kill(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()


class PocketsphinxStream(StreamBase):
    def __init__(self, worker: Worker, stream_id: int, on_result: ResultCallback,
                 on_failure: FailureCallback) -> None:
        super().__init__(on_result, on_failure, CLOSE_TIMEOUT)
        self._worker = worker
        self._id = stream_id
        worker.streams += 1
        self._start("captions-pocketsphinx")

    async def _run(self) -> None:
        try:
            pcm = await self._audio.take(BATCH_BYTES)
            if not pcm:
                return
            # Made at the first audio, not at open: a decoder holds ~90 MB, and a muted participant needs none.
            await self._worker.call(OPEN, self._id)
            while pcm:
                for hyp in await self._worker.call(AUDIO, self._id, pcm):
                    self._emit(hyp)
                pcm = await self._audio.take(BATCH_BYTES)
            for hyp in await self._worker.call(FINISH, self._id):
                self._emit(hyp)
        finally:
            self._worker.streams -= 1


class PocketsphinxEngine:
    name = "pocketsphinx"

    def __init__(self, workers: int | None = None) -> None:
        self._workers = [Worker() for _ in range(workers or os.cpu_count() or 1)]
        self._ids = itertools.count(1)

    def open(self, on_result: ResultCallback, on_failure: FailureCallback) -> SpeechStream:
        worker = min(self._workers, key=lambda w: w.streams)
        return PocketsphinxStream(worker, next(self._ids), on_result, on_failure)

    async def close(self) -> None:
        await asyncio.gather(*(w.close() for w in self._workers))
