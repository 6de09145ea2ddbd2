"""Live captions in a running meeting (docs/captions.md): a host turns them on, everyone is told, and
each speaker's audio goes from Janus to a speech engine on this node.

Per speaker (caption_speaker.py): one engine stream for the whole call (pocketsphinx recognises better
once it has heard a speaker a while), and a Janus RTP forward of their microphone into a loopback port
of ours only while the microphone is on. Browsers upload nothing more. One task keeps who is heard in
step with the meeting: woken by every change we hear of (``changed``), and every ``RESYNC`` seconds (a
feed's audio mid arrives from Janus a moment after it publishes). Nothing a participant sends waits for
it. Final lines are stored as they come (the transcript)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime
from typing import TYPE_CHECKING

from ..actions import captions as actions
from ..captions.engine import EngineFailure, FailureReason, Hypothesis
from ..domain.transcript import Cue, clean_text
from . import protocol
from .caption_speaker import Speaker
from .participant import Participant

if TYPE_CHECKING:
    from .room import Room

log = logging.getLogger("meetkit.signalling")

RESYNC = 2.0  # seconds between checks of who is heard, without a change heard of
FAILURE_PAUSE = 30.0  # after an engine failure, a speaker's captions rest this long before trying again
MUTED_RELEASE = 120.0  # a speaker muted this long gives their stream (and its place in the node's limit) back

_SAID: dict[FailureReason, str] = {  # an engine failure in the meeting's words (its message names the engine)
    "unreachable": "the speech recogniser cannot be reached",
    "timeout": "the speech recogniser is not answering",
    "refused": "the speech recogniser refused the audio",
    "bad_reply": "the speech recogniser failed",
}


class Captions:
    def __init__(self, room: Room) -> None:
        self.room = room
        self.available = False  # available_features.is_captions_available (room.apply_options)
        self.on = False
        self.ran = False  # captions were on at some point of this session (its transcript's callback)
        self._started_at: datetime | None = None  # the session's start
        self._speakers: dict[str, Speaker] = {}
        self._resting: dict[str, float] = {}  # participant id → loop time their captions may try again
        self._over_limit: set[str] = set()  # speakers the node's limit left out (their hosts were told)
        self._loop_task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._syncing = asyncio.Lock()
        self._told_failure = 0.0
        self._ending: set[asyncio.Task[None]] = set()  # streams of speakers gone, flushing
        self._storing: set[asyncio.Task[None]] = set()  # final lines on their way to the transcript

    def session_seconds(self) -> float:
        if self._started_at is None:
            return 0.0
        return max(0.0, (self.room.node.c.clock.now() - self._started_at).total_seconds())

    def state(self, by: str | None = None) -> protocol.CaptionsState:
        engine = self.room.node.speech
        return protocol.CaptionsState(on=self.on, by=by, engine=engine.name if self.on and engine else None)

    # --- switching ---------------------------------------------------------------------------------

    async def start(self, host: Participant) -> None:
        session_id = self.room.session_id
        if not self.available or self.room.node.speech is None:
            host.send(protocol.Error(code="captions_unavailable", message="captions are not available here"))
            return
        if self.on or session_id is None:
            host.send(self.state())
            return
        started = await actions.do_set_captions(self.room.node.c, session_id, True, fence=self.room.fence)
        if self.room.session_id != session_id or self.on:
            return  # the session ended meanwhile (or another host was quicker)
        self.on, self.ran, self._started_at = True, True, started
        self.room.broadcast(self.state(by=host.id))
        self._run()

    async def stop(self, host: Participant | None) -> None:
        if not self.on:
            return
        self.on = False
        try:
            if self.room.session_id is not None:
                await actions.do_set_captions(self.room.node.c, self.room.session_id, False, fence=self.room.fence)
        finally:  # whatever the database said, nobody is transcribed any more
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

    def changed(self) -> None:
        """Something that decides who is heard changed (a microphone, a feed): the loop looks at once."""
        self._wake.set()

    # --- keeping in step ---------------------------------------------------------------------------

    def _run(self) -> None:
        if self._loop_task is None or self._loop_task.done():
            self._loop_task = self.room.node.spawn(self._keep_in_step(), name="captions")

    async def _keep_in_step(self) -> None:
        while self.on:
            self._wake.clear()
            async with self._syncing:
                if self.on:
                    try:
                        await self._sync()
                    except Exception:  # (a port that could not be opened ...): the next round tries again
                        log.exception("captions: keeping in step failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), RESYNC)

    async def _sync(self) -> None:
        """An unmuted microphone is forwarded to its speaker's stream, opened the first time they are
        heard and kept while they are in the meeting (given back after MUTED_RELEASE seconds muted)."""
        room, now = self.room, asyncio.get_running_loop().time()
        joined = {x.id: x for x in room.joined()}
        for pid, held in list(self._speakers.items()):
            muted_long = held.forward is None and self.session_seconds() - held.muted_since > MUTED_RELEASE
            if pid not in joined or muted_long:
                self._end(self._speakers.pop(pid))
        for m in joined.values():
            if self._resting.get(m.id, 0.0) > now:
                continue
            key = room.subscriptions.audio_of(m.id) if m.mic else None
            speaker = self._speakers.get(m.id)
            if speaker is None and key is not None:  # not heard yet: no stream (a connection, a decoder) before
                speaker = self._open(m)
            if speaker is None:
                continue
            if speaker.forward is not None and (key is None or speaker.forward[0] != key[0] or speaker.forward_lost()):
                await speaker.close_forward(room.media, room.janus_room)
            if key is not None and speaker.forward is None and room.media is not None and room.janus_room is not None:
                await speaker.open_forward(room.media, room.janus_room, *key)

    def _open(self, m: Participant) -> Speaker | None:
        node = self.room.node
        engine = node.speech
        if engine is None:
            return None
        limit = node.c.settings.captions_max_speakers
        if node.speech_streams >= limit:
            if m.id not in self._over_limit:  # told once a speaker; tried again at each sync
                self._over_limit.add(m.id)
                self.room.tell_hosts(protocol.CaptionsError(reason="unavailable", message=(
                    f"{m.name} is not captioned: this server captions at most {limit} speakers at once")))
            return None
        self._over_limit.discard(m.id)
        node.speech_streams += 1
        holder: list[Speaker] = []
        stream = engine.open(lambda h: self._heard(holder[0], h), lambda f: self._failed(holder[0], f))
        speaker = Speaker(m, stream, self.session_seconds)
        holder.append(speaker)
        self._speakers[m.id] = speaker
        return speaker

    def _release(self, speaker: Speaker) -> None:
        if speaker.counted:
            speaker.counted = False
            self.room.node.speech_streams -= 1

    def _end(self, speaker: Speaker) -> None:
        """A speaker's stream ends (they left, or captions end): flushed in a task of ours, not under the lock."""
        task = self.room.node.spawn(self._close_speaker(speaker), name="captions-speaker-end")
        self._ending.add(task)
        task.add_done_callback(self._ending.discard)

    async def _close_speaker(self, speaker: Speaker) -> None:
        try:
            await speaker.close_forward(self.room.media, self.room.janus_room)
            await speaker.stream.close()  # the line in progress comes as a final meanwhile
        finally:
            speaker.live = False
            self._release(speaker)

    # --- what the engines say ----------------------------------------------------------------------

    def _heard(self, speaker: Speaker, h: Hypothesis) -> None:
        text = clean_text(h.text)
        if not text or not speaker.live:
            return
        self.room.broadcast(protocol.CaptionsText(participant_id=speaker.m.id, name=speaker.m.name, text=text,
                                                  final=h.final, line=speaker.line))
        session_id = self.room.session_id
        if not h.final:
            return
        speaker.line += 1
        if session_id is not None:
            cue = Cue(participant_id=speaker.m.id, speaker=speaker.m.name, start=speaker.wall(h.start),
                      end=speaker.wall(h.end), text=text)
            task = self.room.node.spawn(actions.do_add_cue(self.room.node.c, session_id, cue, fence=self.room.fence),
                                        name="captions-cue")
            self._storing.add(task)
            task.add_done_callback(self._storing.discard)

    def _failed(self, speaker: Speaker, failure: EngineFailure) -> None:
        if not speaker.live:
            return
        log.warning("captions: the engine failed for a speaker: %s", failure)  # (its message holds no secret)
        if self._speakers.get(speaker.m.id) is speaker:
            del self._speakers[speaker.m.id]
            self._resting[speaker.m.id] = asyncio.get_running_loop().time() + FAILURE_PAUSE
            self._end(speaker)
        speaker.live = False
        loop = asyncio.get_running_loop()
        if loop.time() - self._told_failure >= FAILURE_PAUSE:  # one notice for a failing engine, not one a speaker
            self._told_failure = loop.time()
            self.room.broadcast(protocol.CaptionsError(reason=failure.reason, message=_SAID[failure.reason]))

    # --- ending ------------------------------------------------------------------------------------

    async def close(self) -> None:
        """Every speaker's stream flushed and closed, and their forwards stopped (captions off, session over)."""
        async with self._syncing:  # the loop is cancelled only between two syncs: no speaker half closed
            task, self._loop_task = self._loop_task, None
            if task is not None and task is not asyncio.current_task():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            for speaker in self._speakers.values():
                self._end(speaker)
            self._speakers.clear()
        if self._ending:
            await asyncio.wait(set(self._ending))
        self._resting.clear()  # (after the flushes: a failure during one rests nobody next time)
        self._over_limit.clear()

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
