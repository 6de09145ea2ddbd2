"""pocketsphinx's side of the default captions engine: a process of its own (``python -m
meetkit.captions.sphinx_worker``), so that decoding, which holds Python's GIL, never holds up the event
loop every meeting of the node shares (bench/captions.py measured 200 ms stalls with 4 speakers decoding
in threads). It keeps one Recognizer per stream and answers each request in order, on stdin/stdout:

    request:  !IBI (request id, op, stream id), !I length, payload   op 1 open, 2 audio (PCM), 3 finish
    response: !I request id, !I length, JSON: [[text, final, start, end], ...] or {"error": "..."}
"""

from __future__ import annotations

import json
import struct
import sys
from typing import BinaryIO

from ..domain.transcript import clean_text
from .endpoint import Endpoint
from .engine import BYTES_PER_SECOND, Hypothesis

PARTIAL_INTERVAL = 0.3  # seconds of audio between two partials of one utterance
REQUEST = struct.Struct("!IBII")  # request id, op, stream id, payload length
RESPONSE = struct.Struct("!II")  # request id, payload length
OPEN, AUDIO, FINISH = 1, 2, 3


class Recognizer:
    """Endpointer + Decoder over one stream's audio. Synchronous: called in a worker thread only."""

    def __init__(self) -> None:
        from pocketsphinx import Decoder  # loading the model is slow: this runs in the worker

        self._decoder = Decoder(loglevel="FATAL")
        self._endpoint = Endpoint()
        self._in_utt = False
        self._utt_start = 0.0
        self._last_partial_at = 0.0
        self._last_partial = ""
        self._utt_bytes = 0

    def process(self, pcm: bytes) -> list[Hypothesis]:
        out: list[Hypothesis] = []
        for speech in self._endpoint.speech(pcm):
            self._speech(speech, out)
        return out

    def finish(self) -> list[Hypothesis]:
        out: list[Hypothesis] = []
        speech = self._endpoint.end()
        if speech is not None:
            self._speech(speech, out, force_end=True)
        if self._in_utt:
            self._end_utt(out)
        return out

    def _speech(self, speech: bytes, out: list[Hypothesis], force_end: bool = False) -> None:
        if not self._in_utt:
            self._decoder.start_utt()
            self._in_utt = True
            self._utt_start = self._endpoint.speech_start
            self._last_partial_at = self._utt_start
            self._last_partial = ""
            self._utt_bytes = 0
        self._decoder.process_raw(speech, full_utt=False)
        self._utt_bytes += len(speech)
        now = self._utt_start + self._utt_bytes / BYTES_PER_SECOND  # speech_end moves only at the end
        if force_end or not self._endpoint.in_speech:
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
            end = max(self._utt_start, self._endpoint.speech_end)
            out.append(Hypothesis(text, final=True, start=self._utt_start, end=end))

    def _hypothesis(self) -> str:
        hyp = self._decoder.hyp()
        return clean_text(hyp.hypstr) if hyp is not None else ""


def _read(stream: BinaryIO, n: int) -> bytes | None:
    data = b""
    while len(data) < n:
        more = stream.read(n - len(data))
        if not more:
            return None
        data += more
    return data


def serve(inp: BinaryIO, out: BinaryIO) -> None:
    recognizers: dict[int, Recognizer] = {}
    while True:
        head = _read(inp, REQUEST.size)
        if head is None:
            return  # meetkit closed our stdin: it stopped, or this worker is no longer needed
        request, op, stream, length = REQUEST.unpack(head)
        payload = _read(inp, length) if length else b""
        if payload is None:
            return
        try:
            hyps: list[Hypothesis] = []
            if op == OPEN:
                recognizers[stream] = Recognizer()
            elif op == AUDIO:
                hyps = recognizers[stream].process(payload)
            elif op == FINISH:
                recognizer = recognizers.pop(stream, None)
                hyps = recognizer.finish() if recognizer is not None else []
            body: object = [[h.text, h.final, h.start, h.end] for h in hyps]
        except Exception as exc:  # this stream's failure only; the others go on
            recognizers.pop(stream, None)
            body = {"error": type(exc).__name__}
        data = json.dumps(body).encode()
        out.write(RESPONSE.pack(request, len(data)) + data)
        out.flush()


if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)
