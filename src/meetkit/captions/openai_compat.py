"""An OpenAI-compatible transcription server (faster-whisper-server, whisper.cpp's server, a hosted API).

pocketsphinx's Endpointer (voice activity only, no decoder) cuts the audio into utterances; each is POSTed as
a 16 kHz WAV to the configured URL, the full URL of the endpoint (e.g. http://127.0.0.1:8000/v1/audio/
transcriptions), as multipart ``file``, ``model``, ``language``, ``response_format=json``; the API key, if
any, as ``Authorization: Bearer``. Finals only: these servers transcribe whole files, so there are no partials.
Utterances wait in a bounded queue; when the server falls behind the oldest is dropped (and counted).
"""

from __future__ import annotations

import asyncio
import io
import wave
from collections import deque
from dataclasses import dataclass

import httpx

from ..domain.transcript import clean_text
from .endpoint import Endpoint
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

MAX_UTTERANCE_SECONDS = 30.0  # Whisper's window: a longer monologue is cut and sent in pieces
MAX_QUEUED_UTTERANCES = 8


@dataclass(frozen=True)
class Utterance:
    pcm: bytes
    start: float
    end: float


def to_wav(pcm: bytes) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(pcm)
    return out.getvalue()


class Segmenter:
    """Audio → utterances by voice activity. Cheap (WebRTC VAD, microseconds a frame): runs on the loop."""

    def __init__(self) -> None:
        self._endpoint = Endpoint()
        self._speech = bytearray()
        self._start = 0.0

    def process(self, pcm: bytes) -> list[Utterance]:
        out: list[Utterance] = []
        for speech in self._endpoint.speech(pcm):
            self._add(speech)
            if not self._endpoint.in_speech or len(self._speech) >= MAX_UTTERANCE_SECONDS * BYTES_PER_SECOND:
                out.append(self._cut())
        return out

    def finish(self) -> list[Utterance]:
        speech = self._endpoint.end()
        if speech is not None:
            self._add(speech)
        return [self._cut()] if self._speech else []

    def _add(self, speech: bytes) -> None:
        if not self._speech:
            self._start = self._endpoint.speech_start
        self._speech += speech

    def _cut(self) -> Utterance:
        pcm = bytes(self._speech)
        self._speech.clear()
        utt = Utterance(pcm, self._start, self._start + len(pcm) / BYTES_PER_SECOND)
        self._start = utt.end
        return utt


class OpenAIStream(StreamBase):
    def __init__(self, engine: OpenAICompatEngine, on_result: ResultCallback, on_failure: FailureCallback) -> None:
        super().__init__(on_result, on_failure, close_timeout=engine.timeout + 5)
        self._engine = engine
        self._utterances: deque[Utterance] = deque()
        self._queued = asyncio.Event()
        self._segmented = False
        self.dropped_utterances = 0
        self._start("captions-openai")

    async def _run(self) -> None:
        sender = asyncio.get_running_loop().create_task(self._send_guarded(), name="captions-openai-send")
        try:
            segmenter = Segmenter()
            while (pcm := await self._audio.take(BYTES_PER_SECOND)) and not self._failed:
                self._queue(segmenter.process(pcm))
            if not self._failed:
                self._queue(segmenter.finish())
            self._segmented = True
            self._queued.set()
            await sender
        finally:
            sender.cancel()

    async def _send_guarded(self) -> None:
        try:
            await self._send_all()
        except EngineFailure as failure:
            self._fail(failure)  # closes the audio queue: the segmenting loop ends too

    def _queue(self, utterances: list[Utterance]) -> None:
        for utt in utterances:
            if len(self._utterances) >= MAX_QUEUED_UTTERANCES:
                self._utterances.popleft()
                self.dropped_utterances += 1
            self._utterances.append(utt)
            self._queued.set()

    async def _send_all(self) -> None:
        while True:
            if not self._utterances:
                if self._segmented:
                    return
                self._queued.clear()
                await self._queued.wait()
                continue
            utt = self._utterances.popleft()
            text = await self._engine.transcribe(utt.pcm)
            if text:
                self._emit(Hypothesis(text, final=True, start=utt.start, end=utt.end))


class OpenAICompatEngine:
    name = "openai"

    def __init__(self, url: str, model: str, language: str, api_key: str | None, timeout: float) -> None:
        self._url = url
        self._model = model
        self._language = language
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.timeout = timeout
        self._client: httpx.AsyncClient | None = None

    def open(self, on_result: ResultCallback, on_failure: FailureCallback) -> SpeechStream:
        return OpenAIStream(self, on_result, on_failure)

    async def transcribe(self, pcm: bytes) -> str:
        if self._client is None:  # created in the loop that uses it; trust_env off: only the configured URL
            self._client = httpx.AsyncClient(timeout=self.timeout, trust_env=False, follow_redirects=False)
        where = safe_url(self._url)
        try:
            # The whole exchange, not each read, has the deadline: a server trickling bytes still times out.
            async with asyncio.timeout(self.timeout):
                reply = await self._client.post(
                    self._url, headers=self._headers,
                    files={"file": ("speech.wav", to_wav(pcm), "audio/wav")},
                    data={"model": self._model, "language": self._language, "response_format": "json"})
        except (TimeoutError, httpx.TimeoutException):
            raise EngineFailure("timeout", f"{where} did not answer within {self.timeout:g} s") from None
        except httpx.HTTPError as exc:
            raise EngineFailure("unreachable", f"{where} is unreachable ({type(exc).__name__})") from None
        if reply.status_code != 200:
            raise EngineFailure("refused", f"{where} answered HTTP {reply.status_code}")
        try:
            body = reply.json()
        except ValueError:
            raise EngineFailure("bad_reply", f"{where} answered something that is not JSON") from None
        if not isinstance(body, dict) or not isinstance(body.get("text"), str):
            raise EngineFailure("bad_reply", f"{where} answered JSON without a text")
        return clean_text(body["text"])

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
