"""Transcripts over real HTTP, on SQLite and PostgreSQL (api/transcripts.py): a session's as WebVTT and
JSON, a recording's timed from its start, nobody else's, and gone with the room. The lines are stored
through meetkit's own action, as live captions store them (the meeting side: tests/e2e/test_e2e_captions.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from meetkit.client import MeetingsClient

from ..support import Server, assert_error, create_application, run
from .test_api_recordings import _container, add_recording, add_session


def _say(server: Server, session_id: str, lines: list[tuple[str, str, float, float, str]]) -> None:
    from meetkit.actions import captions
    from meetkit.domain.transcript import Cue

    async def go() -> None:
        c = _container(server)
        try:
            for pid, name, start, end, text in lines:
                await captions.do_add_cue(c, session_id, Cue(pid, name, start, end, text))
        finally:
            await c.engine.dispose()

    run(go())


def _cue_count(server: Server, session_id: str) -> int:
    from sqlalchemy import func, select

    from meetkit.storage import tables as t

    async def go() -> int:
        c = _container(server)
        try:
            async with c.sessions() as db:
                return int(await db.scalar(select(func.count()).select_from(t.TranscriptCue)
                                           .where(t.TranscriptCue.session_id == session_id)) or 0)
        finally:
            await c.engine.dispose()

    return run(go())


def test_a_sessions_transcript_as_webvtt_and_json(client: MeetingsClient, server: Server) -> None:
    room = client.create_room({"display_name": "Transcribed"})
    session_id = add_session(server, client.application_id, room["id"])
    empty = client.request("GET", f"/sessions/{session_id}/transcript")
    assert empty.status_code == 200 and empty.text == "WEBVTT\n", empty.text
    _say(server, session_id, [
        ("p2", "Bo <B> & Co", 3725.5, 3727.25, "second, later"),
        ("p1", "Sam Speaker", 61.0, 63.5, "tomorrow morning at the station"),
        ("p1", "Sam Speaker", 70.0, 70.5, "   "),  # nothing said: not a cue
    ])
    vtt = client.request("GET", f"/sessions/{session_id}/transcript")
    assert vtt.status_code == 200, vtt.text
    assert vtt.headers["content-type"] == "text/vtt; charset=utf-8"
    assert vtt.text == ("WEBVTT\n\n"
                        "00:01:01.000 --> 00:01:03.500\n<v Sam Speaker>tomorrow morning at the station\n\n"
                        "01:02:05.500 --> 01:02:07.250\n<v Bo &lt;B&gt; &amp; Co>second, later\n")
    body = client.request("GET", f"/sessions/{session_id}/transcript", params={"format": "json"}).json()
    assert body == {"cues": [
        {"speaker": "Sam Speaker", "participant_id": "p1", "start": 61.0, "end": 63.5,
         "text": "tomorrow morning at the station"},
        {"speaker": "Bo <B> & Co", "participant_id": "p2", "start": 3725.5, "end": 3727.25, "text": "second, later"}]}
    # Bad input gets the contract's error shape.
    bad = client.request("GET", f"/sessions/{session_id}/transcript", params={"format": "srt"})
    assert bad.status_code == 400, bad.text
    assert_error(client.request("GET", "/sessions/nope/transcript"), 404)


def test_a_recordings_transcript_is_timed_from_its_start(client: MeetingsClient, server: Server) -> None:
    room = client.create_room({"display_name": "Recorded"})
    session_id = add_session(server, client.application_id, room["id"])  # started 30 min ago
    started = datetime.now(UTC) - timedelta(minutes=20)  # 10 min into the session
    rec = add_recording(server, client.application_id, session_id, room["id"], started_at=started,
                        ended_at=started + timedelta(minutes=5))
    _say(server, session_id, [
        ("p1", "Sam", 300.0, 302.0, "before the recording"),
        ("p1", "Sam", 605.0, 607.0, "during it"),
        ("p1", "Sam", 1000.0, 1002.0, "after it"),
    ])
    vtt = client.request("GET", f"/recordings/{rec.recording_id}/transcript")
    assert vtt.status_code == 200, vtt.text
    assert "before the recording" not in vtt.text and "after it" not in vtt.text, vtt.text
    assert "<v Sam>during it" in vtt.text, vtt.text
    cues = client.request("GET", f"/recordings/{rec.recording_id}/transcript", params={"format": "json"}).json()
    [cue] = cues["cues"]
    assert abs(cue["start"] - 5.0) < 1.5, cue  # 605 s into the session, 600 s after its start: ~5 s in
    assert_error(client.request("GET", "/recordings/00000000-0000-0000-0000-000000000000/transcript"), 404)


def test_anothers_transcript_is_not_found_and_the_room_takes_it_along(
        client: MeetingsClient, server: Server, tmp_path: Path) -> None:
    room = client.create_room({"display_name": "Mine"})
    session_id = add_session(server, client.application_id, room["id"])
    _say(server, session_id, [("p1", "Sam", 1.0, 2.0, "a secret plan")])
    other_id, other_key = create_application(server, tmp_path)
    with MeetingsClient(server.base_url, other_id, other_key, verify=str(server.cert_path)) as other:
        assert_error(other.request("GET", f"/sessions/{session_id}/transcript"), 404)
    assert _cue_count(server, session_id) == 1
    client.delete_room(room["id"])
    assert _cue_count(server, session_id) == 0
    assert_error(client.request("GET", f"/sessions/{session_id}/transcript"), 404)
