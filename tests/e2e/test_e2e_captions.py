"""Live captions in Chromium (issue 14). A guest's browser speaks a known sentence: espeak-ng says it, ffmpeg
makes a WAV of it, and that guest's Chromium takes it as its microphone (``--use-file-for-fake-audio-capture``,
played in a loop). meetkit hears it from Janus (an RTP forward of the guest's Opus), pocketsphinx transcribes
it, and the host's page shows the caption with the guest's name; the session's transcript is then served as
WebVTT with the right speaker. A second server sends the audio to a Vosk server instead (a stand-in on
127.0.0.1 speaking Vosk's real WebSocket protocol) and captions one speaker at a time: its captions arrive
too, a second speaker is left out and the host told, and when it stops answering the pages get a notice and
the meeting goes on."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, Playwright

from meetkit.client import MeetingsClient

from .. import browser as b
from ..captions.speech import CONTENT_WORDS, SILENCE, heard, missing_tools, say
from ..captions.standins import VoskStandIn
from ..support import Server, create_application, media_env, media_net, start_server, stop_server
from .test_e2e_recording import session_of

SPEAKER = "Sam Speaker"
WARM_UP = "Hello everyone, this is Sam, and I am testing the captions of this meeting."


@pytest.fixture(scope="module")
def speech_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warm-up, the test sentence twice, pauses between (the endpointer's utterances), as a 48 kHz WAV."""
    reason = missing_tools()
    if reason is not None:
        pytest.skip(reason)
    folder = tmp_path_factory.mktemp("speech")
    pcm = (say(WARM_UP, folder, "warm") + SILENCE + say("please meet me tomorrow morning at the station", folder,
           "sentence") + SILENCE * 2)
    raw, wav = folder / "speech.raw", folder / "speech.wav"
    raw.write_bytes(pcm)
    subprocess.run(["ffmpeg", "-y", "-loglevel", "error", "-f", "s16le", "-ar", "16000", "-ac", "1", "-i", str(raw),
                    "-ar", "48000", "-ac", "1", str(wav)], check=True, timeout=60)
    return wav


@pytest.fixture(scope="module")
async def speaking_chromium(pw: Playwright, speech_wav: Path) -> AsyncIterator[Browser]:
    """A Chromium whose microphone says the WAV (another process than the module's: the flag is per browser)."""
    browser = await pw.chromium.launch(executable_path=b.CHROMIUM, headless=True,
                                       args=[*b.FLAGS, f"--use-file-for-fake-audio-capture={speech_wav}"])
    yield browser
    await browser.close()


async def _meeting(api: MeetingsClient, server: Server, chromium: Browser,
                   speaking: Browser) -> tuple[dict[str, str], Page, Page, list[object]]:
    room = api.create_room({"display_name": "Captions", "available_features": {"is_captions_available": True}})
    contexts: list[object] = []
    host_ctx = await b.new_context(chromium, server.base_url)
    guest_ctx = await b.new_context(speaking, server.base_url, 375, 740)  # a phone
    contexts += [host_ctx, guest_ctx]
    host, guest = await host_ctx.new_page(), await guest_ctx.new_page()
    await b.join(host, room["_links"]["host_url"]["href"], "Hana Host")
    await b.wait_state(host, "joined", timeout=60)
    # The host's fake microphone beeps: muted, it is not transcribed (only unmuted speakers are).
    await host.click("#btn-mic")
    await b.join(guest, room["_links"]["guest_url"]["href"], SPEAKER)
    await b.wait_state(guest, "joined", timeout=60)
    return room, host, guest, contexts


async def _captions_heard(page: Page, speaker_id: str, timeout: float) -> list[str]:
    """The final caption lines of ``speaker_id`` the page shows, until they hold two of the content words."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = await page.evaluate("() => window.__meetkit.captions.lines()")
        for line in lines:
            if line["participantId"] == speaker_id and line["final"] and line["text"] not in seen:
                seen.append(line["text"])
        if len(heard(seen)) >= 2:
            return seen
        await asyncio.sleep(0.3)
    raise AssertionError(f"captions of {speaker_id} within {timeout}s: {seen}; content words {CONTENT_WORDS}")


async def test_a_spoken_sentence_is_captioned_for_another_participant_and_transcribed(
        media_server: Server, api: MeetingsClient, chromium: Browser, speaking_chromium: Browser) -> None:
    room, host, guest, contexts = await _meeting(api, media_server, chromium, speaking_chromium)
    try:
        speaker_id = await guest.evaluate("() => window.__meetkit.participantId")
        await host.click("#btn-captions")
        # Everyone is told they are being transcribed.
        for page in (host, guest):
            await page.wait_for_selector("#captions-badge", state="visible", timeout=15000)
        started = time.monotonic()
        lines = await _captions_heard(host, speaker_id, timeout=90)
        print(f"captions: {heard(lines)} of {CONTENT_WORDS} after {time.monotonic() - started:.1f} s: {lines}")
        # The caption names its speaker on the host's page.
        shown = await host.locator(f'#captions-lines li[data-participant-id="{speaker_id}"]').first.inner_text()
        assert shown.startswith(f"{SPEAKER}: "), shown
        await b.screenshot(host, "captions-1280")
        await b.screenshot(guest, "captions-375")
        await host.set_viewport_size({"width": 550, "height": 800})
        await b.screenshot(host, "captions-550")
        await host.set_viewport_size({"width": 1280, "height": 800})
        # The transcript, as WebVTT, names the speaker; JSON the same lines.
        session_id = await session_of(media_server, room["id"])
        vtt = api.request("GET", f"/sessions/{session_id}/transcript")
        assert vtt.status_code == 200 and vtt.headers["content-type"].startswith("text/vtt"), vtt.text
        assert vtt.text.startswith("WEBVTT\n"), vtt.text
        assert f"<v {SPEAKER}>" in vtt.text, vtt.text
        assert len(heard([vtt.text])) >= 2, vtt.text
        cues = api.request("GET", f"/sessions/{session_id}/transcript", params={"format": "json"}).json()["cues"]
        assert {c["participant_id"] for c in cues} == {speaker_id}, cues  # the muted host is not transcribed
        assert all(0 <= c["start"] <= c["end"] for c in cues), cues
        # The host stops them for everyone.
        await host.click("#captions-stop")
        await guest.wait_for_selector("#captions-badge", state="hidden", timeout=15000)
    finally:
        for ctx in contexts:
            await ctx.close()  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def vosk_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, VoskStandIn, MeetingsClient]]:
    """A server whose captions go to a Vosk server: the stand-in, on a port of 127.0.0.1."""
    media_net()
    standin = VoskStandIn()
    loop = asyncio.new_event_loop()
    loop.run_until_complete(standin.start())
    srv = start_server("sqlite", tmp_path_factory.mktemp("e2e-vosk"), media_env(
        MEETKIT_CAPTIONS_ENGINE="vosk", MEETKIT_CAPTIONS_ENGINE_URL=standin.url,
        MEETKIT_CAPTIONS_ENGINE_TIMEOUT="3", MEETKIT_CAPTIONS_MAX_SPEAKERS="1"), tls=False)
    app_id, key = create_application(srv, tmp_path_factory.mktemp("vosk-keys"))
    with MeetingsClient(srv.base_url, app_id, key) as api:
        yield srv, standin, api
    stop_server(srv)
    loop.run_until_complete(standin.stop())
    loop.close()


async def test_a_vosk_server_captions_and_its_failure_is_told_not_a_stuck_meeting(
        vosk_server: tuple[Server, VoskStandIn, MeetingsClient], chromium: Browser, speaking_chromium: Browser) -> None:
    server, standin, api = vosk_server
    _room, host, guest, contexts = await _meeting(api, server, chromium, speaking_chromium)
    try:
        speaker_id = await guest.evaluate("() => window.__meetkit.participantId")
        await host.click("#btn-captions")
        lines = await _captions_heard(host, speaker_id, timeout=90)
        print(f"captions through the Vosk stand-in: {lines}")
        # One speaker's stream (the muted host has none), opened with Vosk's config message.
        configs = [json.loads(m) for m in standin.messages if isinstance(m, str) and "config" in m]
        assert configs == [{"config": {"sample_rate": 16000}}], standin.messages[:3]
        # This server captions one speaker at a time: the host unmuting is not captioned, and is told.
        await host.click("#btn-mic")
        await host.wait_for_selector(".toast:has-text('Hana Host is not captioned')", timeout=15000)
        await host.click("#btn-mic")
        # The Vosk server stops answering: past the timeout (3 s) everyone gets a notice ...
        standin.mode = "hang"
        for page in (host, guest):
            await page.wait_for_selector(".toast:has-text('Captions stopped')", timeout=30000)
        # ... and the meeting goes on: a chat line still goes from one page to the other.
        await guest.click("#btn-chat")
        await guest.fill("#chat-input", "still here")
        await guest.press("#chat-input", "Enter")
        await host.click("#btn-chat")
        await host.wait_for_selector("#chat-messages :text('still here')", timeout=15000)
        assert await host.evaluate("() => window.__meetkit.state") == "joined"
        assert await guest.evaluate("() => window.__meetkit.state") == "joined"
    finally:
        standin.mode = "ok"
        for ctx in contexts:
            await ctx.close()  # type: ignore[attr-defined]
