"""Each engine on real speech (espeak-ng), and each way a remote engine fails, with every wait bounded."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from meetkit.captions.engine import EngineFailure, Hypothesis, SpeechEngine, SpeechStream
from meetkit.captions.openai_compat import MAX_QUEUED_UTTERANCES, OpenAICompatEngine, OpenAIStream
from meetkit.captions.pocketsphinx_engine import PocketsphinxEngine
from meetkit.captions.vosk import VoskEngine

from .speech import CONTENT_WORDS, SILENCE, heard
from .standins import Mode, OpenAIStandIn, VoskStandIn, free_port

CHUNK = 640  # 20 ms, as the audio receiver hands it over
TIMEOUT = 2.0  # the remote engines' timeout in the failure tests
SLACK = 2.0


@dataclass
class Collected:
    results: list[Hypothesis] = field(default_factory=list)
    failures: list[EngineFailure] = field(default_factory=list)
    failed: asyncio.Event = field(default_factory=asyncio.Event)

    def on_result(self, hyp: Hypothesis) -> None:
        self.results.append(hyp)

    def on_failure(self, failure: EngineFailure) -> None:
        self.failures.append(failure)
        self.failed.set()

    @property
    def finals(self) -> list[str]:
        return [h.text for h in self.results if h.final]


async def feed(stream: SpeechStream, pcm: bytes) -> None:
    for i in range(0, len(pcm), CHUNK):
        stream.feed(pcm[i:i + CHUNK])
        if i % (CHUNK * 10) == 0:
            await asyncio.sleep(0.001)  # faster than real time, but the engine's task gets turns


async def transcribe(engine: SpeechEngine, pcm: bytes) -> Collected:
    got = Collected()
    stream = engine.open(got.on_result, got.on_failure)
    await feed(stream, pcm)
    await asyncio.wait_for(stream.close(), 30)
    await stream.close()  # idempotent
    assert stream.dropped_seconds == 0
    assert got.failures == []
    return got


def check_heard(got: Collected) -> list[str]:
    words = heard(got.finals)
    print(f"finals: {got.finals}; content words heard: {words} of {CONTENT_WORDS}")
    assert len(words) >= 2, got.finals
    starts = [h.start for h in got.results if h.final]
    assert starts == sorted(starts) and all(h.start <= h.end <= 12 for h in got.results)
    return words


def check_partials_first(got: Collected) -> None:
    # Each final that has partials comes after them; the sentence's (the last final) has some.
    last_final = max(i for i, h in enumerate(got.results) if h.final)
    assert any(not h.final for h in got.results[:last_final])
    prev_final = max((i for i, h in enumerate(got.results[:last_final]) if h.final), default=-1)
    assert any(not h.final for h in got.results[prev_final + 1:last_final])


@pytest.fixture
async def vosk_server(request: pytest.FixtureRequest) -> AsyncIterator[VoskStandIn]:
    server = await VoskStandIn(mode=getattr(request, "param", "ok")).start()
    yield server
    await server.stop()


@pytest.fixture
async def openai_server(request: pytest.FixtureRequest) -> AsyncIterator[OpenAIStandIn]:
    server = await OpenAIStandIn(mode=getattr(request, "param", "ok")).start()
    yield server
    await server.stop()


async def test_pocketsphinx_hears_the_sentence(speech_pcm: bytes) -> None:
    engine = PocketsphinxEngine(workers=1)
    started = time.monotonic()
    got = await transcribe(engine, speech_pcm)
    print(f"pocketsphinx: {len(speech_pcm) / 32000:.1f} s of audio in {time.monotonic() - started:.1f} s")
    await engine.close()
    check_heard(got)
    check_partials_first(got)


async def test_speech_cut_off_on_a_frame_boundary_still_ends_in_a_final(speech_pcm: bytes,
                                                                        openai_server: OpenAIStandIn) -> None:
    # The speaker leaves mid-word: the stream closes in speech, its audio a whole number of 20 ms frames
    # (pocketsphinx's end_stream, which both engines use, refuses an empty last frame).
    in_speech = len(speech_pcm) - len(SILENCE) - 16000  # half a second before the sentence's end
    cut = speech_pcm[: in_speech // 640 * 640]
    for engine in (PocketsphinxEngine(workers=1),
                   OpenAICompatEngine(openai_server.url, "whisper-1", "en", None, timeout=10)):
        try:
            got = await transcribe(engine, cut)
        finally:
            await engine.close()
        assert got.results and got.results[-1].final, (engine.name, got.results)


async def test_a_pocketsphinx_worker_that_dies_fails_its_streams_once_and_the_next_stream_gets_a_new_one(
        speech_pcm: bytes) -> None:
    engine = PocketsphinxEngine(workers=1)
    try:
        got = Collected()
        stream = engine.open(got.on_result, got.on_failure)
        stream.feed(speech_pcm[:32000])
        worker = engine._workers[0]
        deadline = time.monotonic() + 20
        while worker._process is None and time.monotonic() < deadline:  # started at the first audio
            await asyncio.sleep(0.05)
        assert worker._process is not None
        worker._process.kill()  # as the OOM killer would
        stream.feed(speech_pcm[32000:64000])
        await asyncio.wait_for(got.failed.wait(), 20)
        assert [f.reason for f in got.failures] == ["unreachable"], got.failures
        await stream.close()
        check_heard(await transcribe(engine, speech_pcm))  # a new worker, a whole answer
    finally:
        await engine.close()


async def test_vosk_hears_the_sentence(speech_pcm: bytes, vosk_server: VoskStandIn) -> None:
    got = await transcribe(VoskEngine(vosk_server.url, timeout=10), speech_pcm)
    check_heard(got)
    check_partials_first(got)
    assert vosk_server.messages[0] == '{"config": {"sample_rate": 16000}}'
    assert vosk_server.messages[-1] == '{"eof" : 1}'


async def test_openai_hears_the_sentence(speech_pcm: bytes, openai_server: OpenAIStandIn) -> None:
    engine = OpenAICompatEngine(openai_server.url, "whisper-1", "en", "sk-test", timeout=10)
    got = await transcribe(engine, speech_pcm)
    await engine.close()
    check_heard(got)
    assert all(h.final for h in got.results)  # finals only
    assert len(openai_server.requests) == 2  # warm-up and sentence
    req = openai_server.requests[-1]
    assert (req.model, req.language, req.response_format, req.authorization) == (
        "whisper-1", "en", "json", "Bearer sk-test")
    assert 1.5 < req.seconds < 5


def make(kind: str, url: str) -> SpeechEngine:
    if kind == "vosk":
        return VoskEngine(url, timeout=TIMEOUT)
    return OpenAICompatEngine(url, "whisper-1", "en", None, timeout=TIMEOUT)


async def fails(engine: SpeechEngine, pcm: bytes, reason: str) -> EngineFailure:
    got = Collected()
    started = time.monotonic()
    stream = engine.open(got.on_result, got.on_failure)
    await feed(stream, pcm)
    await asyncio.wait_for(got.failed.wait(), TIMEOUT + SLACK)
    assert time.monotonic() - started < TIMEOUT + SLACK
    stream.feed(pcm[:CHUNK])  # after the failure: ignored, never raises
    await asyncio.wait_for(stream.close(), 1)
    await engine.close()
    assert [f.reason for f in got.failures] == [reason]  # reported once
    return got.failures[0]


@pytest.mark.parametrize("kind", ["vosk", "openai"])
async def test_unreachable(kind: str, speech_pcm: bytes) -> None:
    scheme = "ws" if kind == "vosk" else "http"
    failure = await fails(make(kind, f"{scheme}://someone:hunter2@127.0.0.1:{free_port()}/v1/audio/transcriptions"),
                          speech_pcm, "unreachable")
    assert "hunter2" not in str(failure) and "someone" not in str(failure)


@pytest.mark.parametrize(("mode", "reason"), [("hang", "timeout"), ("garbage", "bad_reply"), ("error", "refused"),
                                             ("redirect", "refused")])
async def test_vosk_misbehaving(mode: Mode, reason: str, speech_pcm: bytes) -> None:
    server = await VoskStandIn(mode=mode).start()
    try:
        await fails(make("vosk", server.url), speech_pcm, reason)
    finally:
        await server.stop()


@pytest.mark.parametrize(("mode", "reason"), [("hang", "timeout"), ("garbage", "bad_reply"), ("error", "refused")])
async def test_openai_misbehaving(mode: Mode, reason: str, speech_pcm: bytes) -> None:
    server = await OpenAIStandIn(mode=mode).start()
    try:
        await fails(make("openai", server.url), speech_pcm, reason)
    finally:
        await server.stop()


@pytest.mark.parametrize("vosk_server", ["hang"], indirect=True)
async def test_audio_queue_is_bounded(vosk_server: VoskStandIn) -> None:
    got = Collected()
    stream = VoskEngine(vosk_server.url, timeout=TIMEOUT).open(got.on_result, got.on_failure)
    stream.feed(b"\1\0" * 16000 * 60)  # a minute at once, to a server that never answers
    assert stream.dropped_seconds == pytest.approx(50, abs=0.01)
    await asyncio.wait_for(got.failed.wait(), TIMEOUT + SLACK)
    await asyncio.wait_for(stream.close(), 1)
    assert [f.reason for f in got.failures] == ["timeout"]


@pytest.mark.parametrize("openai_server", ["hang"], indirect=True)
async def test_utterance_queue_is_bounded(speech_pcm: bytes, openai_server: OpenAIStandIn) -> None:
    got = Collected()
    stream = OpenAICompatEngine(openai_server.url, "m", "en", None, timeout=TIMEOUT).open(
        got.on_result, got.on_failure)
    assert isinstance(stream, OpenAIStream)
    for _ in range(7):  # ~60 s of speech, 14 utterances, while the first upload hangs
        for i in range(0, len(speech_pcm), 32000):
            stream.feed(speech_pcm[i:i + 32000])
            await asyncio.sleep(0.001)
    assert stream.dropped_seconds == 0
    assert stream.dropped_utterances >= 14 - 1 - MAX_QUEUED_UTTERANCES
    await asyncio.wait_for(got.failed.wait(), TIMEOUT + SLACK)
    await asyncio.wait_for(stream.close(), 1)
    assert [f.reason for f in got.failures] == ["timeout"]
    assert len(openai_server.requests) == 1
