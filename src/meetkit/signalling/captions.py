"""Live captions in a running meeting (docs/captions.md): a host turns them on, everyone is told, and
each speaker's audio goes from Janus to a speech engine on this node.

Per speaker, while captions are on: one engine stream for the whole call (pocketsphinx recognises
better once it has heard a speaker a while), and a Janus RTP forward of their microphone into a
loopback port of ours only while the microphone is on. Browsers upload nothing more. Which speakers
are heard is re-checked on every change we hear of and every ``RESYNC`` seconds (a feed's audio mid
arrives from Janus a moment after it publishes). Final lines are stored as they come (the transcript)."""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
from datetime import datetime
from typing import TYPE_CHECKING

from ..actions import captions as actions
from ..captions.audio import SpeakerAudio
from ..captions.engine import BYTES_PER_SECOND, EngineFailure, FailureReason, Hypothesis, SpeechStream
from ..domain.transcript import Cue, clean_text
from . import protocol
from .participant import Participant

if TYPE_CHECKING:
    from .room import Room

log = logging.getLogger("meetkit.signalling")

RESYNC = 2.0  # seconds between checks of who is heard
FORWARD_SILENCE = 6.0  # seconds without a packet from an unmuted speaker's forward: it is made again
FAILURE_PAUSE = 30.0  # after an engine failure, a speaker's captions rest this long before trying again


_SAID: dict[FailureReason, str] = {
    "unreachable": "the speech recogniser cannot be reached",
    "timeout": "the speech recogniser is not answering",
    "refused": "the speech recogniser refused the audio",
    "bad_reply": "the speech recogniser failed",
}


class _Speaker:
    """One participant's captions: the engine stream, and the forward of their audio while unmuted."""

    def __init__(self, captions: Captions, m: Participant, stream: SpeechStream) -> None:
        self.captions = captions
        self.m = m
        self.stream = stream
        self.audio: SpeakerAudio | None = None
        self.forward: tuple[int, int] | None = None  # (feed, Janus stream id)
        self._packets = 0  # packets the forward had brought at the last check
        self._progress_at = 0.0  # loop time they last grew (or the forward began)
        self.live = True  # results are shown (until its stream failed, or closed and flushed)
        self._counted = True  # in the node's speech_streams (until released)
        self.line = 0
        self.fed = 0  # bytes of audio given to the engine
        # (audio seconds fed, wall seconds since the session started): where an engine's times fall.
        self._marks: list[tuple[float, float]] = []

    def on_pcm(self, pcm: bytes, at: float) -> None:
        seconds = self.fed / BYTES_PER_SECOND
        if not self._marks or seconds - self._marks[-1][0] >= 0.5:
            self._marks.append((seconds, self.captions.session_seconds()))
            del self._marks[:-600]
        self.fed += len(pcm)
        self.stream.feed(pcm)

    def wall(self, audio_seconds: float) -> float:
        """When, in the session, the engine's ``audio_seconds`` were spoken (to the nearest half second)."""
        if not self._marks:
            return self.captions.session_seconds()
        i = max(0, bisect.bisect_right(self._marks, (audio_seconds, float("inf"))) - 1)
        fed, wall = self._marks[i]
        return wall + max(0.0, audio_seconds - fed)

    def forward_lost(self) -> bool:
        """A forward that brought nothing for FORWARD_SILENCE seconds is gone: Janus drops its forwarders
        when a publisher publishes again on a new handle (same feed) or unpublishes. (A muted browser
        still sends silent packets, so an unmuted one that sends none has no forward.)"""
        now = asyncio.get_running_loop().time()
        packets = self.audio.counts.decoded if self.audio is not None else 0
        if packets != self._packets or not self._progress_at:
            self._packets, self._progress_at = packets, now
        return now - self._progress_at >= FORWARD_SILENCE

    async def close_forward(self) -> None:
        forward, self.forward = self.forward, None
        media, janus_room = self.captions.room.media, self.captions.room.janus_room
        if forward is not None and media is not None and janus_room is not None:
            try:
                await media.stop_forward(janus_room, forward[0], forward[1])
            except Exception as exc:  # Janus gone: it took the forward with it
                log.info("captions: stopping a forward failed: %s", type(exc).__name__)
        if self.audio is not None:
            self.audio.close()
            self.audio = None
        self._packets, self._progress_at = 0, 0.0

    def release(self) -> None:
        if self._counted:
            self._counted = False
            self.captions.room.node.speech_streams -= 1

    async def close(self) -> None:
        await self.close_forward()
        await self.stream.close()  # the line in progress comes as a final meanwhile
        self.live = False
        self.release()


class Captions:
    def __init__(self, room: Room) -> None:
        self.room = room
        self.available = False  # available_features.is_captions_available (room.apply_options)
        self.on = False
        self.ran = False  # captions were on at some point of this session (its transcript's callback)
        self._started_at: datetime | None = None  # the session's start
        self._speakers: dict[str, _Speaker] = {}
        self._resting: dict[str, float] = {}  # participant id → loop time their captions may try again
        self._loop_task: asyncio.Task[None] | None = None
        self._syncing = asyncio.Lock()
        self._told_failure = 0.0
        self._storing: set[asyncio.Task[None]] = set()  # final lines on their way to the transcript
        self._over_limit: set[str] = set()  # speakers the node's limit left out (their host was told)

    def session_seconds(self) -> float:
        if self._started_at is None:
            return 0.0
        return max(0.0, (self.room.node.c.clock.now() - self._started_at).total_seconds())

    def _engine_name(self) -> str | None:
        engine = self.room.node.speech
        return engine.name if engine is not None else None

    def state(self, by: str | None = None) -> protocol.CaptionsState:
        return protocol.CaptionsState(on=self.on, by=by, engine=self._engine_name() if self.on else None)

    async def start(self, host: Participant) -> None:
        if not self.available or self.room.node.speech is None:
            host.send(protocol.Error(code="captions_unavailable", message="captions are not available here"))
            return
        if self.on or self.room.session_id is None:
            host.send(self.state())
            return
        self._started_at = await actions.do_set_captions(self.room.node.c, self.room.session_id, True,
                                                         fence=self.room.fence)
        self.on = self.ran = True
        self.room.broadcast(self.state(by=host.id))
        self._run()

    async def stop(self, host: Participant | None) -> None:
        if not self.on:
            return
        self.on = False
        if self.room.session_id is not None:
            await actions.do_set_captions(self.room.node.c, self.room.session_id, False, fence=self.room.fence)
        self.room.broadcast(self.state(by=host.id if host is not None else None))
        await self.close()

    def get(self, m: Participant) -> None:
        m.send(self.state())

    async def restore(self) -> None:
        """A node taking the meeting over goes on with captions if its owner had them on."""
        if self.room.session_id is None or not self.available or self.room.node.speech is None:
            return
        started = await actions.captions_started(self.room.node.c, self.room.session_id)
        if started is not None:
            self.on, self.ran, self._started_at = True, True, started
            self._run()

    def _run(self) -> None:
        if self._loop_task is None or self._loop_task.done():
            self._loop_task = self.room.node.spawn(self._keep_in_step(), name="captions")

    async def _keep_in_step(self) -> None:
        while self.on:
            await self.sync()
            await asyncio.sleep(RESYNC)

    async def sync(self) -> None:
        """Who is heard: an unmuted microphone is forwarded to its speaker's stream, opened the first time
        and kept while they are in the meeting (muted or not)."""
        async with self._syncing:
            if not self.on:
                return
            joined = {x.id: x for x in self.room.joined()}
            for pid in [p for p in self._speakers if p not in joined]:
                await self._speakers.pop(pid).close()
            now = asyncio.get_running_loop().time()
            for m in joined.values():
                if self._resting.get(m.id, 0.0) > now:
                    continue
                key = self.room.subscriptions.audio_of(m.id) if m.mic else None
                speaker = self._speakers.get(m.id)
                if speaker is None:
                    if key is None:
                        continue  # never heard yet: no stream (an engine's connection, a decoder) for them
                    speaker = self._open(m)
                    if speaker is None:
                        continue
                if speaker.forward is not None and (key is None or speaker.forward[0] != key[0]
                                                    or speaker.forward_lost()):
                    await speaker.close_forward()
                if key is not None and speaker.forward is None:
                    await self._forward(speaker, key)

    def _open(self, m: Participant) -> _Speaker | None:
        node = self.room.node
        engine = node.speech
        if engine is None:
            return None
        if node.speech_streams >= node.c.settings.captions_max_speakers:
            if m.id not in self._over_limit:  # told once a speaker; tried again at each sync
                self._over_limit.add(m.id)
                self.room.tell_hosts(protocol.CaptionsError(reason="unavailable", message=(
                    f"{m.name} is not captioned: this server captions at most "
                    f"{node.c.settings.captions_max_speakers} speakers at once")))
            return None
        self._over_limit.discard(m.id)
        node.speech_streams += 1
        holder: list[_Speaker] = []
        stream = engine.open(lambda h: self._heard(holder[0], h), lambda f: self._failed(holder[0], f))
        speaker = _Speaker(self, m, stream)
        holder.append(speaker)
        self._speakers[m.id] = speaker
        return speaker

    async def _forward(self, speaker: _Speaker, key: tuple[int, str]) -> None:
        media, janus_room = self.room.media, self.room.janus_room
        if media is None or janus_room is None:
            return
        feed, mid = key
        speaker.audio = await SpeakerAudio.open(speaker.on_pcm)
        try:
            speaker.forward = (feed, await media.forward_audio(janus_room, feed, mid, speaker.audio.port))
        except Exception as exc:  # the feed went meanwhile; the next sync tries again
            log.info("captions: forwarding feed %s failed: %s", feed, type(exc).__name__)
            speaker.audio.close()
            speaker.audio = None

    def _heard(self, speaker: _Speaker, h: Hypothesis) -> None:
        text = clean_text(h.text)
        if not text or not speaker.live:
            return
        self.room.broadcast(protocol.CaptionsText(participant_id=speaker.m.id, name=speaker.m.name, text=text,
                                                  final=h.final, line=speaker.line))
        if h.final:
            speaker.line += 1
            session_id = self.room.session_id
            if session_id is not None:
                cue = Cue(participant_id=speaker.m.id, speaker=speaker.m.name, start=speaker.wall(h.start),
                          end=speaker.wall(h.end), text=text)
                task = self.room.node.spawn(actions.do_add_cue(self.room.node.c, session_id, cue,
                                                               fence=self.room.fence), name="captions-cue")
                self._storing.add(task)
                task.add_done_callback(self._storing.discard)

    def _failed(self, speaker: _Speaker, failure: EngineFailure) -> None:
        if not speaker.live:
            return
        speaker.live = False
        speaker.release()
        log.warning("captions: the engine failed for a speaker: %s", failure)  # (its message holds no secret)
        if self._speakers.get(speaker.m.id) is speaker:
            del self._speakers[speaker.m.id]
        loop = asyncio.get_running_loop()
        self._resting[speaker.m.id] = loop.time() + FAILURE_PAUSE
        self.room.node.spawn(speaker.close_forward(), name="captions-forward-stop")
        if loop.time() - self._told_failure >= FAILURE_PAUSE:  # one notice for a failing engine, not one a speaker
            self._told_failure = loop.time()
            # In the meeting's words, not the engine's: its message names the engine's address.
            self.room.broadcast(protocol.CaptionsError(reason=failure.reason, message=_SAID[failure.reason]))

    async def close(self) -> None:
        """Every speaker's stream flushed and closed, and their forwards stopped (captions off, session over)."""
        task, self._loop_task = self._loop_task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        async with self._syncing:
            speakers, self._speakers = list(self._speakers.values()), {}
            self._resting.clear()
            self._over_limit.clear()
            await asyncio.gather(*(s.close() for s in speakers), return_exceptions=True)

    async def let_go(self) -> None:
        """Another node owns the meeting now (handover.abandon): our streams and forwards end, and nothing
        is written (the session is the new owner's: it goes on with the captions, ``restore``)."""
        self.on = self.ran = False
        await self.close()  # (room.session_id is None already: a line flushed now is not stored)

    async def session_over(self) -> None:
        """The session ends: the lines in progress are flushed and stored, then the callback says the
        transcript is ready (only where captions ran: the node that ran them)."""
        ran, self.ran, self.on = self.ran, False, False
        await self.close()
        if self._storing:
            await asyncio.wait(set(self._storing), timeout=10)
        if ran and self.room.session_id is not None:
            await actions.do_transcript_ready(self.room.node.c, self.room.session_id)
