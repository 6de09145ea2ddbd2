"""pocketsphinx's Endpointer (voice activity, WebRTC's VAD) over audio of any length: what both engines that
cut speech into utterances share (the pocketsphinx worker and the OpenAI-compatible client). Synchronous."""

from __future__ import annotations

from collections.abc import Iterator

from .engine import SAMPLE_RATE

FRAME_SECONDS = 0.02


class Endpoint:
    def __init__(self) -> None:
        from pocketsphinx import Endpointer  # (imported where used: the worker process, or an engine in use)

        self._endpointer = Endpointer(sample_rate=SAMPLE_RATE, frame_length=FRAME_SECONDS)
        self._frame_bytes: int = self._endpointer.frame_bytes
        self._carry = b""  # less than a frame, waiting for the next audio

    @property
    def in_speech(self) -> bool:
        return bool(self._endpointer.in_speech)

    @property
    def speech_start(self) -> float:
        return float(self._endpointer.speech_start)

    @property
    def speech_end(self) -> float:
        return float(self._endpointer.speech_end)

    def speech(self, pcm: bytes) -> Iterator[bytes]:
        """The speech in ``pcm`` (whole frames; the rest waits), frame by frame: ``in_speech`` and the
        times are those of the frame just given."""
        data = self._carry + pcm
        whole = len(data) - len(data) % self._frame_bytes
        self._carry = data[whole:]
        for i in range(0, whole, self._frame_bytes):
            speech = self._endpointer.process(data[i:i + self._frame_bytes])
            if speech is not None:
                yield speech

    def end(self) -> bytes | None:
        """The audio is over: the speech still held, if the stream ended in speech."""
        carry, self._carry = self._carry, b""
        if not self._endpointer.in_speech:
            return None
        # (end_stream refuses an empty frame: audio that ended on a frame boundary ends on silence.)
        speech: bytes | None = self._endpointer.end_stream(carry or bytes(self._frame_bytes))
        return speech
