"""The default engine: pocketsphinx in-process, offline, English only (the model its wheel carries).

Accuracy is modest and it costs CPU (0.12-0.25 s per second of speech on one core), so decoding runs in the
engine's small thread pool, one batch at a time per stream. A decoder adapts to its speaker as it goes
(cepstral mean): each stream keeps one for the whole call; a fresh decoder per utterance hears much less.
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TypeVar

from ..domain.transcript import clean_text
from .engine import (
    BYTES_PER_SECOND,
    SAMPLE_RATE,
    FailureCallback,
    Hypothesis,
    ResultCallback,
    SpeechStream,
    StreamBase,
)

FRAME_SECONDS = 0.02
PARTIAL_INTERVAL = 0.3  # seconds of audio between two partials of one utterance
BATCH_BYTES = BYTES_PER_SECOND // 2  # audio handed to the thread at once: results keep flowing under backlog
T = TypeVar("T")
CLOSE_TIMEOUT = 15.0  # a full queue (10 s) decodes in ~2.5 s; the decoder itself loads in ~0.5 s


class Recognizer:
    """Endpointer + Decoder over one stream's audio. Synchronous: called in a worker thread only."""

    def __init__(self) -> None:
        from pocketsphinx import Decoder, Endpointer  # loading the model is slow: this runs in the thread

        self._decoder = Decoder(loglevel="FATAL")
        self._endpointer = Endpointer(sample_rate=SAMPLE_RATE, frame_length=FRAME_SECONDS)
        self._frame_bytes: int = self._endpointer.frame_bytes
        self._carry = b""  # less than a frame, waiting for the next feed
        self._in_utt = False
        self._utt_start = 0.0
        self._last_partial_at = 0.0
        self._last_partial = ""
        self._utt_bytes = 0

    def process(self, pcm: bytes) -> list[Hypothesis]:
        data = self._carry + pcm
        whole = len(data) - len(data) % self._frame_bytes
        self._carry = data[whole:]
        out: list[Hypothesis] = []
        for i in range(0, whole, self._frame_bytes):
            speech = self._endpointer.process(data[i:i + self._frame_bytes])
            if speech is not None:
                self._speech(speech, out)
        return out

    def finish(self) -> list[Hypothesis]:
        out: list[Hypothesis] = []
        if self._endpointer.in_speech:
            speech = self._endpointer.end_stream(self._carry)
            if speech is not None:
                self._speech(speech, out, force_end=True)
        if self._in_utt:
            self._end_utt(out)
        self._carry = b""
        return out

    def _speech(self, speech: bytes, out: list[Hypothesis], force_end: bool = False) -> None:
        if not self._in_utt:
            self._decoder.start_utt()
            self._in_utt = True
            self._utt_start = float(self._endpointer.speech_start)
            self._last_partial_at = self._utt_start
            self._last_partial = ""
            self._utt_bytes = 0
        self._decoder.process_raw(speech, full_utt=False)
        self._utt_bytes += len(speech)
        now = self._utt_start + self._utt_bytes / BYTES_PER_SECOND  # speech_end moves only at the end
        if force_end or not self._endpointer.in_speech:
            self._end_utt(out)
        elif now - self._last_partial_at >= PARTIAL_INTERVAL:
            self._last_partial_at = now
            text = self._hypothesis()
            if text and text != self._last_partial:
                self._last_partial = text
                out.append(Hypothesis(text, final=False, start=self._utt_start, end=now))

    def _end_utt(self, out: list[Hypothesis]) -> None:
        self._decoder.end_utt()
        self._in_utt = False
        text = self._hypothesis()
        if text:
            end = max(self._utt_start, float(self._endpointer.speech_end))
            out.append(Hypothesis(text, final=True, start=self._utt_start, end=end))

    def _hypothesis(self) -> str:
        hyp = self._decoder.hyp()
        return clean_text(hyp.hypstr) if hyp is not None else ""


class PocketsphinxStream(StreamBase):
    def __init__(self, pool: ThreadPoolExecutor, on_result: ResultCallback, on_failure: FailureCallback) -> None:
        super().__init__(on_result, on_failure, CLOSE_TIMEOUT)
        self._pool = pool
        self._start("captions-pocketsphinx")

    async def _in_thread(self, fn: partial[T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn)

    async def _run(self) -> None:
        pcm = await self._audio.take(BATCH_BYTES)
        if not pcm:
            return
        # Made at the first audio, not at open: a decoder holds ~90 MB, and a muted participant needs none.
        recognizer = await self._in_thread(partial(Recognizer))
        while pcm:
            for hyp in await self._in_thread(partial(recognizer.process, pcm)):
                self._emit(hyp)
            pcm = await self._audio.take(BATCH_BYTES)
        for hyp in await self._in_thread(partial(recognizer.finish)):
            self._emit(hyp)


class PocketsphinxEngine:
    name = "pocketsphinx"

    def __init__(self, threads: int | None = None) -> None:
        # Its own pool: captions of a big meeting must not starve the default executor (DNS, files).
        self._pool = ThreadPoolExecutor(max_workers=threads or os.cpu_count() or 1,
                                        thread_name_prefix="captions-pocketsphinx")

    def open(self, on_result: ResultCallback, on_failure: FailureCallback) -> SpeechStream:
        return PocketsphinxStream(self._pool, on_result, on_failure)

    async def close(self) -> None:
        await asyncio.to_thread(self._pool.shutdown, wait=True, cancel_futures=True)
