"""A Vosk server (alphacep/vosk-server) over its WebSocket protocol; only the configured URL is contacted.

The protocol: a text ``{"config": {"sample_rate": 16000}}``, then binary PCM messages, each answered by one
JSON (``{"partial": ...}`` or ``{"result": [...], "text": ...}``); the text ``{"eof" : 1}`` ends the stream:
the server sends the last result and closes. We send in lock-step (one message, its reply) so every reply has
a deadline. No reconnect: a failure is reported once and the stream ends (the caller may open a new one).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from ..domain.transcript import clean_text
from .engine import (
    BYTES_PER_SECOND,
    SAMPLE_RATE,
    EngineFailure,
    FailureCallback,
    Hypothesis,
    ResultCallback,
    SpeechStream,
    StreamBase,
    safe_url,
)

MIN_MESSAGE_BYTES = BYTES_PER_SECOND // 10  # 100 ms: fewer round trips than one per 20 ms packet
MAX_MESSAGE_BYTES = BYTES_PER_SECOND // 2
PARTIAL_INTERVAL = 0.3  # seconds of audio between two partials
EOF_MESSAGE = '{"eof" : 1}'  # the server compares the text literally


class _Connect(connect):
    """websockets' connect, to the configured URL only: a redirect is refused (as an InvalidStatus)."""

    def process_redirect(self, exc: Exception) -> Exception | str:
        return exc


class VoskStream(StreamBase):
    def __init__(self, url: str, timeout: float, on_result: ResultCallback, on_failure: FailureCallback) -> None:
        super().__init__(on_result, on_failure, close_timeout=timeout * 2 + 5)
        self._url = url
        self._timeout = timeout
        self._sent = 0  # bytes of audio sent: the stream's clock
        self._utt_start: float | None = None
        self._last_partial = ""
        self._last_partial_at = -PARTIAL_INTERVAL
        self._start("captions-vosk")

    async def _run(self) -> None:
        ws = await self._connect()
        try:
            await self._exchange(ws, json.dumps({"config": {"sample_rate": SAMPLE_RATE}}), expect_reply=False)
            while pcm := await self._next_message():
                await self._exchange(ws, pcm)
                self._sent += len(pcm)
            await self._finish(ws)
        finally:
            await ws.close()

    async def _connect(self) -> ClientConnection:
        where = safe_url(self._url)
        try:
            # (proxy=None: an HTTPS_PROXY of the environment must not see speakers' audio.)
            return await _Connect(self._url, open_timeout=self._timeout, close_timeout=1, max_size=1 << 20,
                                  ping_interval=None, proxy=None)
        except TimeoutError:
            raise EngineFailure("timeout", f"Vosk server {where} did not answer within {self._timeout:g} s") from None
        except InvalidStatus as exc:
            raise EngineFailure("refused", f"Vosk server {where} refused the connection "
                                f"(HTTP {exc.response.status_code})") from None
        except (OSError, InvalidURI, InvalidHandshake) as exc:
            raise EngineFailure("unreachable", f"Vosk server {where} is unreachable ({type(exc).__name__})") from None

    async def _next_message(self) -> bytes:
        # Gather ~100 ms unless the stream is closing; a backlog goes out in bigger messages.
        pcm = await self._audio.take(MAX_MESSAGE_BYTES)
        while pcm and len(pcm) < MIN_MESSAGE_BYTES and not self._audio.closed:
            more = await self._audio.take(MIN_MESSAGE_BYTES - len(pcm))
            if not more:
                break
            pcm += more
        return pcm

    async def _exchange(self, ws: ClientConnection, message: str | bytes, expect_reply: bool = True) -> None:
        try:
            await asyncio.wait_for(ws.send(message), self._timeout)
            if expect_reply:
                self._handle(await asyncio.wait_for(ws.recv(), self._timeout))
        except TimeoutError:
            raise EngineFailure("timeout", f"Vosk server {safe_url(self._url)} did not reply within "
                                f"{self._timeout:g} s") from None
        except ConnectionClosed:
            raise EngineFailure("unreachable", f"Vosk server {safe_url(self._url)} closed the connection") from None

    async def _finish(self, ws: ClientConnection) -> None:
        """Send eof; the server answers the last result and closes."""
        try:
            await asyncio.wait_for(ws.send(EOF_MESSAGE), self._timeout)
            async with asyncio.timeout(self._timeout):
                async for reply in ws:
                    self._handle(reply)
        except TimeoutError:
            raise EngineFailure("timeout", f"Vosk server {safe_url(self._url)} did not end the stream within "
                                f"{self._timeout:g} s") from None
        except ConnectionClosed:
            pass  # closed (even abruptly) after eof: nothing more was coming

    def _handle(self, reply: str | bytes) -> None:
        try:
            body: Any = json.loads(reply)
        except (ValueError, UnicodeDecodeError):
            raise EngineFailure("bad_reply", "the Vosk server sent something that is not JSON") from None
        if not isinstance(body, dict):
            raise EngineFailure("bad_reply", "the Vosk server sent an unexpected reply")
        now = self._sent / BYTES_PER_SECOND
        if isinstance(body.get("partial"), str):
            self._partial(clean_text(body["partial"]), now)
        elif isinstance(body.get("text"), str):
            self._final(clean_text(body["text"]), body.get("result"), now)
        else:
            raise EngineFailure("bad_reply", "the Vosk server sent an unexpected reply")

    def _partial(self, text: str, now: float) -> None:
        if not text or text == self._last_partial or now - self._last_partial_at < PARTIAL_INTERVAL:
            return
        if self._utt_start is None:
            self._utt_start = now
        self._last_partial, self._last_partial_at = text, now
        self._emit(Hypothesis(text, final=False, start=self._utt_start, end=now))

    def _final(self, text: str, words: object, now: float) -> None:
        start, end = self._utt_start if self._utt_start is not None else now, now
        if isinstance(words, list) and words and all(isinstance(w, dict) for w in words):
            # The server's word times count from the stream's start, like ours.
            first, last = words[0].get("start"), words[-1].get("end")
            if isinstance(first, int | float) and isinstance(last, int | float):
                start, end = float(first), float(last)
        self._utt_start, self._last_partial, self._last_partial_at = None, "", -PARTIAL_INTERVAL
        if text:
            self._emit(Hypothesis(text, final=True, start=start, end=max(start, end)))


class VoskEngine:
    name = "vosk"

    def __init__(self, url: str, timeout: float) -> None:
        self._url = url
        self._timeout = timeout

    def open(self, on_result: ResultCallback, on_failure: FailureCallback) -> SpeechStream:
        return VoskStream(self._url, self._timeout, on_result, on_failure)

    async def close(self) -> None:
        pass  # streams own their connections
