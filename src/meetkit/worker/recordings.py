"""The recording pipeline worker: composes stopped recordings into one MP4 and stores it.

The job is the recording row itself (status ``stopped``, ``next_attempt_at`` due), so a restart loses
none: a composition cut short by a crash is simply due again when its lease runs out. A failed
composition backs off and is tried again, up to ``recording_max_attempts``."""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select, update

from ..actions import captions
from ..actions.recordings import do_recording_uploaded, recordings_doorbell
from ..container import Container
from ..domain.recordings import RecordingStatus, move
from ..domain.transcript import to_webvtt
from ..recording.compose import compose, discover_tracks
from ..storage import tables as t
from .passes import run_passes

log = logging.getLogger("meetkit.recordings")

LEASE = timedelta(minutes=30)  # longer than any composition; then another worker may take the job


class RecordingWorker:
    def __init__(self, c: Container) -> None:
        self._c = c
        self._wake = asyncio.Event()

    async def claim(self) -> t.Recording | None:
        """Take the next due stopped recording, leasing it by moving its timer ahead."""
        now = self._c.clock.now()
        query = (select(t.Recording)
                 .where(t.Recording.status == RecordingStatus.STOPPED, t.Recording.next_attempt_at <= now)
                 .order_by(t.Recording.next_attempt_at).limit(1))
        if self._c.engine.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        async with self._c.sessions.begin() as db:
            rec = await db.scalar(query)
            if rec is None:
                return None
            rec.next_attempt_at = now + LEASE
            rec.attempts += 1
            return rec

    async def process(self, rec: t.Recording) -> None:
        s = self._c.settings
        folder = Path(rec.record_dir) if rec.record_dir else None
        tracks = discover_tracks(folder) if folder is not None and folder.is_dir() else []
        key = f"recordings/{rec.id}.mp4"
        work = Path(tempfile.mkdtemp(prefix=f"compose-{rec.id}-", dir=s.data_dir))
        try:
            out = work / "recording.mp4"
            start_us = int(rec.started_at.timestamp() * 1_000_000)
            end_us = int(rec.ended_at.timestamp() * 1_000_000) if rec.ended_at else None
            result = await compose(tracks, out, work_dir=work, start_us=start_us, end_us=end_us)
            await asyncio.to_thread(self._c.objects.put_file, key, out)
            await self._transcript_beside(rec, key)
            await do_recording_uploaded(self._c, rec.id, key)
            log.info("recording %s composed: %.1f s, %d tile(s)", rec.id, result.duration, result.tiles)
            if folder is not None and not s.keep_recording_tracks:
                shutil.rmtree(folder, ignore_errors=True)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    async def _transcript_beside(self, rec: t.Recording, key: str) -> None:
        """What live captions heard meanwhile, as WebVTT beside the MP4 (which stays as it is). Not
        having it does not fail the recording: the transcript is also served by the REST route."""
        try:
            cues = await captions.recording_cues(self._c, rec)
            if cues:
                await asyncio.to_thread(self._c.objects.put, captions.transcript_key(key), to_webvtt(cues).encode())
        except Exception:
            log.exception("recording %s: its transcript could not be written beside it", rec.id)

    async def _failed(self, rec: t.Recording, exc: BaseException) -> None:
        s = self._c.settings
        delay = min(s.recording_retry_backoff * 2 ** max(0, rec.attempts - 1), 3600.0)
        give_up = rec.attempts >= s.recording_max_attempts
        values: dict[str, object] = {
            "last_error": f"{type(exc).__name__}: {exc}"[:300],
            "next_attempt_at": None if give_up else self._c.clock.now() + timedelta(seconds=delay)}
        if give_up:
            # Final: it may be deleted, and it no longer holds back its room's deletion.
            values["status"] = move(rec.status, RecordingStatus.FAILED)
        async with self._c.sessions.begin() as db:
            await db.execute(update(t.Recording).where(t.Recording.id == rec.id,
                                                           t.Recording.status == RecordingStatus.STOPPED)
                             .values(**values))
        log.error("composing recording %s failed (attempt %d%s): %s", rec.id, rec.attempts,
                  ", giving up" if give_up else "", type(exc).__name__)

    async def tick(self) -> int:
        done = 0
        while (rec := await self.claim()) is not None:
            started = time.perf_counter()
            try:
                await self.process(rec)
                done += 1
                self._c.metrics.compose_seconds.observe(time.perf_counter() - started)
                self._c.metrics.compositions.labels("uploaded").inc()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._c.metrics.compositions.labels("failed").inc()
                await self._failed(rec, exc)
        return done

    async def run(self) -> None:
        """Until cancelled: when a recording stops (the doorbell), else every few seconds."""
        unsubscribe = recordings_doorbell.subscribe(self._wake.set)
        try:
            await run_passes(self.tick, self._c.settings.lifecycle_poll_interval * 5, log, "recording",
                             wake=self._wake)
        finally:
            unsubscribe()
