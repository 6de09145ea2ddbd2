"""Stand-ins for remote speech servers, speaking the real protocols on 127.0.0.1, each in its own thread and
event loop (so their decoding never delays the engine under test). They recognise with pocketsphinx, so real
text comes back, and can be told to misbehave: ``mode`` is "ok", "hang" (never reply), "garbage" (reply
something that is not the protocol) or "error" (refuse: HTTP 500)."""

from __future__ import annotations

import asyncio
import io
import json
import socket
import threading
import wave
from collections.abc import Awaitable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Literal

import uvicorn
from pocketsphinx import Decoder, Endpointer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request as WsRequest
from websockets.http11 import Response as WsResponse

Mode = Literal["ok", "hang", "garbage", "error", "redirect"]


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LoopThread:
    """An event loop in a daemon thread; ``run`` a coroutine on it from the test's loop."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    async def run(self, coro: Awaitable[Any]) -> Any:
        async def wrap() -> Any:
            return await coro

        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(wrap(), self.loop))

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)


class Recognizer:
    """The stand-ins' own pocketsphinx loop (independent of meetkit's)."""

    def __init__(self) -> None:
        self.decoder = Decoder(loglevel="FATAL")
        self.endpointer = Endpointer(sample_rate=16000, frame_length=0.02)
        self.carry = b""
        self.in_utt = False

    def feed(self, pcm: bytes) -> dict[str, Any]:
        data = self.carry + pcm
        fb = self.endpointer.frame_bytes
        whole = len(data) - len(data) % fb
        self.carry = data[whole:]
        texts: list[str] = []
        for i in range(0, whole, fb):
            speech = self.endpointer.process(data[i:i + fb])
            if speech is not None:
                self._speech(speech, texts)
        return self._reply(texts)

    def finish(self) -> dict[str, Any]:
        texts: list[str] = []
        if self.endpointer.in_speech:
            speech = self.endpointer.end_stream(self.carry)
            if speech is not None:
                self._speech(speech, texts)
        if self.in_utt:
            self._end(texts)
        return self._reply(texts, final=True)

    def _speech(self, speech: bytes, texts: list[str]) -> None:
        if not self.in_utt:
            self.decoder.start_utt()
            self.in_utt = True
        self.decoder.process_raw(speech, full_utt=False)
        if not self.endpointer.in_speech:
            self._end(texts)

    def _end(self, texts: list[str]) -> None:
        self.decoder.end_utt()
        self.in_utt = False
        hyp = self.decoder.hyp()
        texts.append(hyp.hypstr if hyp is not None else "")

    def _reply(self, texts: list[str], final: bool = False) -> dict[str, Any]:
        if texts or final:
            text = " ".join(t for t in texts if t)
            start, end = float(self.endpointer.speech_start), float(self.endpointer.speech_end)
            words = [{"word": w, "start": start, "end": end, "conf": 1.0} for w in text.split()]
            return {"result": words, "text": text}
        hyp = self.decoder.hyp() if self.in_utt else None
        return {"partial": hyp.hypstr if hyp is not None else ""}


@dataclass
class VoskStandIn:
    mode: Mode = "ok"
    port: int = 0
    messages: list[str | bytes] = field(default_factory=list)  # text messages, and b"audio" per binary one
    _thread: LoopThread | None = None
    _server: Server | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def start(self) -> VoskStandIn:
        self._thread = LoopThread()

        async def open_server() -> Server:
            return await serve(self._handle, "127.0.0.1", 0, process_request=self._process_request)

        self._server = await self._thread.run(open_server())
        self.port = int(next(iter(self._server.sockets)).getsockname()[1])
        return self

    async def stop(self) -> None:
        assert self._thread is not None and self._server is not None
        server = self._server

        async def close() -> None:
            server.close(close_connections=True)
            await asyncio.wait_for(server.wait_closed(), 5)

        await self._thread.run(close())
        self._thread.stop()

    def _process_request(self, connection: ServerConnection, request: WsRequest) -> WsResponse | None:
        if self.mode == "error":
            return connection.respond(HTTPStatus.INTERNAL_SERVER_ERROR, "no recognizer\n")
        if self.mode == "redirect":  # elsewhere (this same stand-in, which would answer): not to be followed
            moved = connection.respond(HTTPStatus.FOUND, "moved\n")
            moved.headers["Location"] = f"ws://127.0.0.1:{self.port}/elsewhere"
            self.mode = "ok"
            return moved
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        recognizer: Recognizer = await asyncio.to_thread(Recognizer)
        async for message in ws:
            self.messages.append(message if isinstance(message, str) else b"audio")
            if self.mode == "hang":
                continue
            if self.mode == "garbage":
                await ws.send("<html>not json")
                continue
            if message == '{"eof" : 1}':
                await ws.send(json.dumps(await asyncio.to_thread(recognizer.finish)))
                await ws.close()
                return
            if isinstance(message, bytes):
                await ws.send(json.dumps(await asyncio.to_thread(recognizer.feed, message)))


@dataclass
class Transcription:
    model: str
    language: str
    response_format: str
    authorization: str | None
    seconds: float


@dataclass
class OpenAIStandIn:
    mode: Mode = "ok"
    port: int = 0
    requests: list[Transcription] = field(default_factory=list)
    _thread: LoopThread | None = None
    _server: uvicorn.Server | None = None
    _serving: asyncio.Future[None] | None = None

    def __post_init__(self) -> None:
        # One decoder for all requests, as a real server keeps its model loaded; it stays warm between them.
        self._recognizer = Recognizer()
        self._lock = threading.Lock()
        self._stopping = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/audio/transcriptions"

    async def start(self) -> OpenAIStandIn:
        self._thread = LoopThread()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = int(sock.getsockname()[1])
        app = Starlette(routes=[Route("/v1/audio/transcriptions", self._transcribe, methods=["POST"])])
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off",
                                                     timeout_graceful_shutdown=1))
        self._serving = asyncio.run_coroutine_threadsafe(self._server.serve(sockets=[sock]), self._thread.loop)
        for _ in range(500):
            if self._server.started:
                return self
            await asyncio.sleep(0.01)
        raise RuntimeError("the OpenAI stand-in did not start")

    async def stop(self) -> None:
        assert self._thread is not None and self._server is not None and self._serving is not None
        self._stopping = True
        self._server.should_exit = True
        await asyncio.wait_for(asyncio.wrap_future(self._serving), 10)
        self._thread.stop()

    async def _transcribe(self, request: Request) -> Response:
        form = await request.form()
        upload = form["file"]
        assert not isinstance(upload, str)
        wav = await upload.read()
        with wave.open(io.BytesIO(wav)) as w:
            assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2)
            pcm = w.readframes(w.getnframes())
        self.requests.append(Transcription(str(form["model"]), str(form["language"]), str(form["response_format"]),
                                           request.headers.get("authorization"), len(pcm) / 32000))
        while self.mode == "hang" and not self._stopping:  # until stop(): its shutdown then needs no force
            await asyncio.sleep(0.05)
        if self.mode == "error":
            return PlainTextResponse("overloaded", status_code=500)
        if self.mode == "garbage":
            return PlainTextResponse("<html>not json")
        return JSONResponse({"text": await asyncio.to_thread(self._recognize, pcm)})

    def _recognize(self, pcm: bytes) -> str:
        with self._lock:
            decoder = self._recognizer.decoder
            decoder.start_utt()
            decoder.process_raw(pcm, full_utt=False)
            decoder.end_utt()
            hyp = decoder.hyp()
            return hyp.hypstr if hyp is not None else ""


