"""A recording's stored status follows domain/recordings.py on SQLite and PostgreSQL: started → stopped →
uploaded through the actions and the pipeline worker, or failed once composing gives up; the values
stored are the contract's strings."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from meetkit.actions.applications import do_create_application, generate_key_pair
from meetkit.actions.inputs import CreateRoomIn
from meetkit.actions.meetings import do_join
from meetkit.actions.recordings import (
    do_delete_recording,
    do_start_recording,
    do_stop_recording,
    get_recording,
)
from meetkit.actions.rooms import do_create_room
from meetkit.app import build_container
from meetkit.clock import FakeClock
from meetkit.config import Settings
from meetkit.container import Container
from meetkit.domain.recordings import RecordingStatus
from meetkit.errors import Conflict, Forbidden, NotFound
from meetkit.recording.compose import ComposeError
from meetkit.worker.recordings import RecordingWorker

from ..support import create_pg_database, drop_pg_database, run


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database of this module's own: the worker claims every due recording it finds."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('recording-states')}/r.db"
        return
    url = create_pg_database()
    yield url
    drop_pg_database(url)


async def _running_session(database_url: str, folder: Path, clock: FakeClock,
                           **settings: object) -> tuple[Container, str, str]:
    from meetkit.storage import migrate

    c = build_container(Settings(data_dir=folder / "data", database_url=database_url, **settings), clock=clock)
    await migrate.upgrade(c.engine)
    app_id = (await do_create_application(c, "rec", public_key_pem=generate_key_pair()[1])).application_id
    room = await do_create_room(c, app_id, CreateRoomIn(display_name="recorded"))
    joined = await do_join(c, room.id, uuid.uuid4().hex, "Host", is_host=True)
    return c, app_id, joined.session_id


def test_started_stopped_then_uploaded(database_url: str, tmp_path: Path) -> None:
    clock = FakeClock(datetime.now(UTC).replace(microsecond=0))

    async def go() -> None:
        c, app_id, session_id = await _running_session(database_url, tmp_path, clock)
        try:
            rec = await do_start_recording(c, session_id, only_owner=False)
            assert (await get_recording(c, app_id, rec.id)).status == "started"
            with pytest.raises(Conflict):
                await do_start_recording(c, session_id, only_owner=False)  # one at a time
            with pytest.raises(Forbidden):
                await do_delete_recording(c, app_id, rec.id)  # not while it runs
            clock.advance(2)
            assert await do_stop_recording(c, rec.id)
            assert not await do_stop_recording(c, rec.id)  # stopped once
            assert (await get_recording(c, app_id, rec.id)).status == "stopped"
            # No track was written: the pipeline composes two black, silent seconds (real ffmpeg).
            assert await RecordingWorker(c).tick() == 1
            stored = await get_recording(c, app_id, rec.id)
            assert stored.status == RecordingStatus.UPLOADED.value == "uploaded" and stored.storage_key
            await do_delete_recording(c, app_id, rec.id)
            with pytest.raises(NotFound):
                await get_recording(c, app_id, rec.id)
        finally:
            await c.engine.dispose()

    run(go())


def test_what_captions_heard_lies_beside_the_mp4_as_webvtt_and_goes_with_it(database_url: str, tmp_path: Path) -> None:
    from meetkit.actions import captions
    from meetkit.domain.transcript import Cue

    clock = FakeClock(datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2))

    async def go() -> None:
        c, app_id, session_id = await _running_session(database_url, tmp_path, clock)
        try:
            clock.advance(10)
            rec = await do_start_recording(c, session_id, only_owner=False)  # 10 s into the session
            await captions.do_add_cue(c, session_id, Cue("p1", "Sam", 4.0, 5.0, "before it"))
            await captions.do_add_cue(c, session_id, Cue("p1", "Sam", 11.0, 12.5, "during it"))
            clock.advance(3)
            assert await do_stop_recording(c, rec.id)
            assert await RecordingWorker(c).tick() == 1
            stored = await get_recording(c, app_id, rec.id)
            assert stored.storage_key is not None
            vtt = c.objects.get(captions.transcript_key(stored.storage_key))
            assert vtt == b"WEBVTT\n\n00:00:01.000 --> 00:00:02.500\n<v Sam>during it\n", vtt
            await do_delete_recording(c, app_id, rec.id)
            assert c.objects.get(captions.transcript_key(stored.storage_key)) is None
        finally:
            await c.engine.dispose()

    run(go())


def test_a_composition_that_gives_up_leaves_the_recording_failed_and_deletable(database_url: str,
                                                                               tmp_path: Path) -> None:
    clock = FakeClock(datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1))

    async def go() -> None:
        c, app_id, session_id = await _running_session(database_url, tmp_path, clock, recording_max_attempts=1)
        try:
            rec = await do_start_recording(c, session_id, only_owner=True)
            clock.advance(2)
            assert await do_stop_recording(c, rec.id)
            worker = RecordingWorker(c)
            claimed = await worker.claim()
            assert claimed is not None and claimed.id == rec.id and claimed.attempts == 1
            await worker._failed(claimed, ComposeError("ffmpeg said no"))  # what tick does when compose raises
            stored = await get_recording(c, app_id, rec.id)
            assert stored.status == "failed" and stored.next_attempt_at is None
            assert stored.last_error == "ComposeError: ffmpeg said no"
            assert await worker.claim() is None  # given up: no longer due
            await do_delete_recording(c, app_id, rec.id)
        finally:
            await c.engine.dispose()

    run(go())
