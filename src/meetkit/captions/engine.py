"""The speech-to-text interface every captions engine implements, and the bounded audio queue they share.

A stream is one speaker's audio for the whole call. It owns its task: results and a failure come back through
callbacks on the event loop; it never raises into the caller and never hangs (every wait has a timeout).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol
from urllib.parse import urlsplit, urlunsplit

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
BYTES_PER_SECOND = SAMPLE_RATE * 2  # mono, 16-bit
MAX_QUEUED_SECONDS = 10.0  # audio a stream holds before dropping the oldest: a slow engine lags at most this

FailureReason = Literal["unreachable", "timeout", "refused", "bad_reply"]


@dataclass(frozen=True)
class Hypothesis:
    text: str
    final: bool  # a partial is replaced by the next partial or by its final
    start: float  # seconds of audio since the stream opened
    end: float


class EngineFailure(Exception):
    """Why a stream stopped. The message is safe to show: it holds no secret and no URL credentials."""

    def __init__(self, reason: FailureReason, message: str) -> None:
        super().__init__(message)
        self.reason: FailureReason = reason

    def __repr__(self) -> str:
        return f"EngineFailure({self.reason!r}, {str(self)!r})"


ResultCallback = Callable[[Hypothesis], None]
FailureCallback = Callable[[EngineFailure], None]


class SpeechStream(Protocol):
    def feed(self, pcm: bytes) -> None:
        """16 kHz mono s16le, any length; call on the event loop. Never blocks; past ~10 s queued, the oldest
        audio is dropped (counted in ``dropped_seconds``)."""

    async def close(self) -> None:
        """Flush (the utterance in progress gets its final), then stop. Idempotent, bounded in time."""

    @property
    def dropped_seconds(self) -> float:
        """Audio dropped because the engine did not keep up."""


class SpeechEngine(Protocol):
    name: str

    def open(self, on_result: ResultCallback, on_failure: FailureCallback) -> SpeechStream:
        """One stream per speaker, kept for the whole call; call in a running loop."""

    async def close(self) -> None: ...


def safe_url(url: str) -> str:
    """The URL as it may appear in a message or a log: without user name, password or query."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    except ValueError:
        return "(invalid URL)"


class AudioQueue:
    """PCM waiting for an engine: bounded in bytes, dropping the oldest audio first (captions stay current)."""

    def __init__(self, max_seconds: float = MAX_QUEUED_SECONDS) -> None:
        self._max_bytes = int(max_seconds * BYTES_PER_SECOND) & ~1
        self._chunks: deque[bytes] = deque()
        self._size = 0
        self._dropped = 0
        self._ready = asyncio.Event()
        self.closed = False  # no more audio will come: take() returns what is left, then b""

    @property
    def dropped_seconds(self) -> float:
        return self._dropped / BYTES_PER_SECOND

    @property
    def queued_bytes(self) -> int:
        return self._size

    def put(self, pcm: bytes) -> None:
        if self.closed or not pcm:
            return
        self._chunks.append(pcm)
        self._size += len(pcm)
        while self._size > self._max_bytes:
            over = self._size - self._max_bytes
            head = self._chunks[0]
            cut = min(len(head), over + (over & 1))  # keep samples whole
            if cut == len(head):
                self._chunks.popleft()
            else:
                self._chunks[0] = head[cut:]
            self._size -= cut
            self._dropped += cut
        self._ready.set()

    def close(self) -> None:
        self.closed = True
        self._ready.set()

    async def take(self, max_bytes: int) -> bytes:
        """Up to ``max_bytes`` of queued audio, waiting for some; b"" once closed and empty."""
        while not self._chunks:
            if self.closed:
                return b""
            self._ready.clear()
            await self._ready.wait()
        out = bytearray()
        while self._chunks and len(out) < max_bytes:
            head = self._chunks.popleft()
            room = max_bytes - len(out)
            if len(head) > room:
                self._chunks.appendleft(head[room:])
                head = head[:room]
            out += head
        self._size -= len(out)
        return bytes(out)


class StreamBase:
    """What every stream shares: the queue, its one task, a failure reported once, a bounded close."""

    def __init__(self, on_result: ResultCallback, on_failure: FailureCallback, close_timeout: float) -> None:
        self._on_result = on_result
        self._on_failure = on_failure
        self._close_timeout = close_timeout
        self._audio = AudioQueue()
        self._failed = False
        self._task: asyncio.Task[None] | None = None

    def _start(self, name: str) -> None:
        self._task = asyncio.get_running_loop().create_task(self._guarded(), name=name)

    @property
    def dropped_seconds(self) -> float:
        return self._audio.dropped_seconds

    def feed(self, pcm: bytes) -> None:
        if not self._failed:
            self._audio.put(pcm)

    async def close(self) -> None:
        self._audio.close()
        task = self._task
        if task is None or task.done():
            return
        try:
            await asyncio.wait_for(asyncio.shield(task), self._close_timeout)
        except TimeoutError:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            self._fail(EngineFailure("timeout", "the engine did not finish within the close timeout"))

    async def _run(self) -> None:
        raise NotImplementedError

    async def _guarded(self) -> None:
        try:
            await self._run()
        except EngineFailure as failure:
            self._fail(failure)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # an engine bug must end this stream only, and be seen
            log.exception("captions stream failed")
            self._fail(EngineFailure("bad_reply", f"the engine failed ({type(exc).__name__})"))

    def _emit(self, hyp: Hypothesis) -> None:
        try:
            self._on_result(hyp)
        except Exception:  # the caller's bug must not stop the captions of this speaker
            log.exception("captions result callback failed")

    def _fail(self, failure: EngineFailure) -> None:
        if self._failed:
            return
        self._failed = True
        self._audio.close()
        try:
            self._on_failure(failure)
        except Exception:
            log.exception("captions failure callback failed")
