"""Recordings, sessions and dial-in numbers over real HTTP, on SQLite and PostgreSQL.

Nothing produces recordings yet (the recording pipeline comes later), so sessions and recordings are
put in place through meetkit's own storage layer, the way the pipeline will leave them."""

from __future__ import annotations

import re
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from meetkit.client import MeetingsApiError, MeetingsClient

from .. import support
from ..support import Server, assert_error, run

ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
RECORDING_KEYS = {"id", "session_id", "started_at", "ended_at", "status", "_links"}


def mp4_bytes(size: int = 64 * 1024) -> bytes:
    """Enough of an MP4 to be recognisable (an ftyp box), then noise."""
    return b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + secrets.token_bytes(size)


@dataclass
class Stored:
    session_id: str
    room_id: str
    recording_id: str
    key: str | None
    data: bytes | None
    started_at: datetime
    ended_at: datetime | None


def _container(server: Server) -> Any:
    from meetkit.app import build_container
    from meetkit.config import Settings

    return build_container(Settings(data_dir=server.data_dir, database_url=server.database_url))


def add_session(server: Server, application_id: str, room_id: str, *, ended: bool = True) -> str:
    from meetkit.storage import tables as t

    session_id = uuid.uuid4().hex

    async def go() -> None:
        c = _container(server)
        try:
            now = datetime.now(UTC)
            async with c.sessions.begin() as db:
                db.add(t.Session(id=session_id, room_id=room_id, application_id=application_id,
                                 started_at=now - timedelta(minutes=30), ended_at=now if ended else None))
        finally:
            await c.engine.dispose()

    run(go())
    return session_id


def add_recording(server: Server, application_id: str, session_id: str, room_id: str, *,
                  status: str = "uploaded", data: bytes | None = None, started_at: datetime | None = None,
                  ended_at: datetime | None = None) -> Stored:
    from meetkit.storage import tables as t

    rec_id = str(uuid.uuid4())
    started = (started_at or datetime.now(UTC) - timedelta(minutes=20)).replace(microsecond=123000)
    if ended_at is None and status in ("stopped", "uploaded"):
        ended_at = started + timedelta(minutes=7, seconds=3)
    if data is None and status == "uploaded":
        data = mp4_bytes()
    key = f"recordings/{application_id}/{rec_id}.mp4" if data is not None else None

    async def go() -> None:
        c = _container(server)
        try:
            if key is not None and data is not None:
                c.objects.put(key, data)
            async with c.sessions.begin() as db:
                db.add(t.Recording(id=rec_id, application_id=application_id, session_id=session_id,
                                   room_id=room_id, status=status, started_at=started, ended_at=ended_at,
                                   storage_key=key, created_at=datetime.now(UTC)))
        finally:
            await c.engine.dispose()

    run(go())
    return Stored(session_id, room_id, rec_id, key, data, started, ended_at)


def recording_row_exists(server: Server, recording_id: str) -> bool:
    from meetkit.storage import tables as t

    async def go() -> bool:
        c = _container(server)
        try:
            async with c.sessions() as db:
                return await db.get(t.Recording, recording_id) is not None
        finally:
            await c.engine.dispose()

    return run(go())


def stored_object(server: Server, key: str) -> bytes | None:
    from meetkit.config import Settings
    from meetkit.storage.objects import LocalObjectStore

    return LocalObjectStore(Settings(data_dir=server.data_dir).objects_dir).get(key)


def server_secret(server: Server) -> bytes:
    from meetkit.config import Settings

    return Settings(data_dir=server.data_dir, database_url=server.database_url).resolved_secret_key()


def ms(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def other_client(server: Server, tmp_path: Path) -> MeetingsClient:
    return support.other_client(server, tmp_path / "other")


@pytest.fixture
def session(client: MeetingsClient, server: Server) -> tuple[str, str]:
    """(session_id, room_id): an ended session in a fresh room of the client's application."""
    room = client.create_room({"display_name": "recorded"})
    return add_session(server, client.application_id, room["id"]), room["id"]


def without_links(rec: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in rec.items() if k != "_links"}


# ---- GET /recordings/{id} ------------------------------------------------------------------------------


def test_get_recording_shape_and_download(client: MeetingsClient, server: Server,
                                          session: tuple[str, str]) -> None:
    stored = add_recording(server, client.application_id, *session)
    resp = client.request("GET", f"/recordings/{stored.recording_id}")
    assert resp.status_code == 200, resp.text
    rec = resp.json()
    assert set(rec) == RECORDING_KEYS
    assert rec["id"] == stored.recording_id and rec["session_id"] == stored.session_id
    assert rec["status"] == "uploaded"
    assert ISO_Z.match(rec["started_at"]) and ISO_Z.match(rec["ended_at"])
    assert stored.ended_at is not None
    assert rec["started_at"] == ms(stored.started_at) and rec["ended_at"] == ms(stored.ended_at)
    assert set(rec["_links"]) == {"url"} and set(rec["_links"]["url"]) == {"href"}
    href = httpx.URL(rec["_links"]["url"]["href"])
    assert href.is_absolute_url and str(href).startswith(server.base_url + "/")
    # The link is the credential: no token needed.
    got = httpx.get(str(href), verify=server.ssl, timeout=30)
    assert got.status_code == 200
    assert got.headers["content-type"] == "video/mp4"
    assert got.content == stored.data
    assert f"{stored.recording_id}.mp4" in got.headers.get("content-disposition", "")


def test_download_supports_ranges(client: MeetingsClient, server: Server, session: tuple[str, str]) -> None:
    """Video players seek with Range requests."""
    stored = add_recording(server, client.application_id, *session)
    href = client.get_recording(stored.recording_id)["_links"]["url"]["href"]
    got = httpx.get(href, verify=server.ssl, headers={"Range": "bytes=4-11"})
    assert got.status_code == 206 and got.content == b"ftypmp42"


def test_get_recording_in_progress(client: MeetingsClient, server: Server, session: tuple[str, str]) -> None:
    stored = add_recording(server, client.application_id, *session, status="started")
    rec = client.get_recording(stored.recording_id)
    assert set(rec) == RECORDING_KEYS
    assert rec["status"] == "started" and rec["ended_at"] is None
    # Nothing to download yet: the link answers 404 in the contract's shape.
    got = httpx.get(rec["_links"]["url"]["href"], verify=server.ssl)
    assert_error(got, 404, "NotFoundError", "Could not find recording")


@pytest.mark.parametrize("status", ["started", "stopped", "paused", "uploaded"])
def test_every_status_renders(client: MeetingsClient, server: Server, session: tuple[str, str],
                              status: str) -> None:
    stored = add_recording(server, client.application_id, *session, status=status)
    assert client.get_recording(stored.recording_id)["status"] == status


@pytest.mark.parametrize("rec_id", ["00000000-0000-0000-0000-000000000000", "nope", "x" * 300])
def test_get_unknown_recording(client: MeetingsClient, rec_id: str) -> None:
    resp = client.request("GET", f"/recordings/{rec_id}")
    assert resp.json() == {"message": f"Recording {rec_id} was not found", "name": "NotFoundError", "status": 404}
    assert_error(resp, 404)


# ---- the signed download link --------------------------------------------------------------------------


def _split(href: str) -> tuple[str, int, str]:
    url = httpx.URL(href)
    return str(url.copy_with(query=None)), int(url.params["expires"]), url.params["signature"]


def test_download_link_expiry_window(client: MeetingsClient, server: Server, session: tuple[str, str]) -> None:
    stored = add_recording(server, client.application_id, *session)
    _, expires, _ = _split(client.get_recording(stored.recording_id)["_links"]["url"]["href"])
    # An hour by default: long enough to fetch, short enough not to become a public URL.
    assert time.time() + 3000 < expires <= time.time() + 3600 + 5


def test_tampered_download_link(client: MeetingsClient, server: Server, session: tuple[str, str]) -> None:
    stored = add_recording(server, client.application_id, *session)
    other = add_recording(server, client.application_id, *session)
    base, expires, sig = _split(client.get_recording(stored.recording_id)["_links"]["url"]["href"])
    flipped = ("0" if sig[0] != "0" else "1") + sig[1:]
    cases = [
        {"expires": expires, "signature": flipped},
        {"expires": expires, "signature": sig.upper()},
        {"expires": expires, "signature": ""},
        {"expires": expires, "signature": "\u00e9" * 64},
        {"expires": expires + 3600, "signature": sig},  # stretching the window breaks the signature
    ]
    for params in cases:
        assert_error(httpx.get(base, params=params, verify=server.ssl), 403, "ForbiddenError")
    # A valid signature for one recording does not open another.
    other_base = base.replace(stored.recording_id, other.recording_id)
    assert_error(httpx.get(other_base, params={"expires": expires, "signature": sig}, verify=server.ssl), 403,
                 "ForbiddenError")


def test_expired_download_link(client: MeetingsClient, server: Server, session: tuple[str, str]) -> None:
    """A link whose time has passed, correctly signed with the server's own secret."""
    from meetkit.api.render import download_signature

    stored = add_recording(server, client.application_id, *session)
    base, _, _ = _split(client.get_recording(stored.recording_id)["_links"]["url"]["href"])
    past = int(time.time()) - 60
    sig = download_signature(server_secret(server), stored.recording_id, past)
    body = assert_error(httpx.get(base, params={"expires": past, "signature": sig}, verify=server.ssl), 403,
                        "ForbiddenError")
    assert "expired" in body["message"]
    # The same construction with a future time works: the 403 above is only about time.
    future = int(time.time()) + 60
    sig = download_signature(server_secret(server), stored.recording_id, future)
    ok = httpx.get(base, params={"expires": future, "signature": sig}, verify=server.ssl)
    assert ok.status_code == 200 and ok.content == stored.data


@pytest.mark.parametrize("params", [{}, {"expires": "soon", "signature": "x"}, {"signature": "x"},
                                    {"expires": "1"}, {"expires": "-5", "signature": "x"}])
def test_download_link_missing_parts(client: MeetingsClient, server: Server, session: tuple[str, str],
                                     params: dict[str, str]) -> None:
    stored = add_recording(server, client.application_id, *session)
    base, _, _ = _split(client.get_recording(stored.recording_id)["_links"]["url"]["href"])
    resp = httpx.get(base, params=params, verify=server.ssl)
    assert resp.status_code in (400, 403), resp.text
    assert_error(resp, resp.status_code)


# ---- sessions ------------------------------------------------------------------------------------------


def test_session_recordings(client: MeetingsClient, server: Server, session: tuple[str, str]) -> None:
    now = datetime.now(UTC)
    # Inserted out of order: the answer follows started_at.
    late = add_recording(server, client.application_id, *session, started_at=now - timedelta(minutes=5))
    early = add_recording(server, client.application_id, *session, started_at=now - timedelta(minutes=25))
    middle = add_recording(server, client.application_id, *session, status="paused",
                           started_at=now - timedelta(minutes=15))
    # Another session's recording stays out.
    other_session = add_session(server, client.application_id, session[1])
    add_recording(server, client.application_id, other_session, session[1])
    for path in (f"/sessions/{session[0]}/recordings", f"/sessions/{session[0]}"):
        resp = client.request("GET", path)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert set(body) == {"_embedded"} and set(body["_embedded"]) == {"recordings"}
        recs = body["_embedded"]["recordings"]
        assert [r["id"] for r in recs] == [early.recording_id, middle.recording_id, late.recording_id]
        for r in recs:
            assert set(r) == RECORDING_KEYS and r["session_id"] == session[0]
            assert without_links(r) == without_links(client.get_recording(r["id"]))
        got = httpx.get(recs[0]["_links"]["url"]["href"], verify=server.ssl)
        assert got.status_code == 200 and got.content == early.data
    assert [r["id"] for r in client.session_recordings(session[0])] == [
        early.recording_id, middle.recording_id, late.recording_id]


def test_session_without_recordings(client: MeetingsClient, server: Server, session: tuple[str, str]) -> None:
    for path in (f"/sessions/{session[0]}/recordings", f"/sessions/{session[0]}"):
        resp = client.request("GET", path)
        assert resp.status_code == 200 and resp.json() == {"_embedded": {"recordings": []}}


def test_live_session(client: MeetingsClient, server: Server) -> None:
    room = client.create_room({"display_name": "live"})
    sid = add_session(server, client.application_id, room["id"], ended=False)
    stored = add_recording(server, client.application_id, sid, room["id"], status="started")
    assert [r["status"] for r in client.session_recordings(sid)] == ["started"]
    assert client.get_recording(stored.recording_id)["ended_at"] is None


@pytest.mark.parametrize("sid", ["nope", "0" * 32, "x" * 300])
def test_unknown_session(client: MeetingsClient, sid: str) -> None:
    for path in (f"/sessions/{sid}/recordings", f"/sessions/{sid}"):
        resp = client.request("GET", path)
        assert resp.json() == {"message": f"Failed to find session recordings by id: {sid}",
                               "name": "NotFoundError", "status": 404}
        assert_error(resp, 404)


def test_aliases(client: MeetingsClient, server: Server, session: tuple[str, str]) -> None:
    stored = add_recording(server, client.application_id, *session)
    for prefix in ("/beta/meetings", "/meetings"):
        headers = {"Authorization": f"Bearer {client.token()}"}
        rec = httpx.get(f"{server.base_url}{prefix}/recordings/{stored.recording_id}", headers=headers,
                        verify=server.ssl)
        assert rec.status_code == 200 and rec.json()["id"] == stored.recording_id
        headers = {"Authorization": f"Bearer {client.token()}"}
        recs = httpx.get(f"{server.base_url}{prefix}/sessions/{session[0]}/recordings", headers=headers,
                         verify=server.ssl)
        assert [r["id"] for r in recs.json()["_embedded"]["recordings"]] == [stored.recording_id]


# ---- another application ------------------------------------------------------------------------------


def test_another_applications_recordings(client: MeetingsClient, server: Server, session: tuple[str, str],
                                         tmp_path: Path) -> None:
    stored = add_recording(server, client.application_id, *session)
    rid, sid = stored.recording_id, session[0]
    with other_client(server, tmp_path) as other:
        assert_error(other.request("GET", f"/recordings/{rid}"), 404, "NotFoundError",
                     f"Recording {rid} was not found")
        assert_error(other.request("DELETE", f"/recordings/{rid}"), 404, "NotFoundError",
                     f"Recording {rid} was not found")
        for path in (f"/sessions/{sid}/recordings", f"/sessions/{sid}"):
            assert_error(other.request("GET", path), 404, "NotFoundError",
                         f"Failed to find session recordings by id: {sid}")
    assert recording_row_exists(server, rid)
    assert stored.key is not None and stored_object(server, stored.key) == stored.data
    assert client.get_recording(rid)["id"] == rid


# ---- DELETE /recordings/{id} ---------------------------------------------------------------------------


def test_delete_uploaded_recording(client: MeetingsClient, server: Server, session: tuple[str, str]) -> None:
    stored = add_recording(server, client.application_id, *session)
    keep = add_recording(server, client.application_id, *session)
    href = client.get_recording(stored.recording_id)["_links"]["url"]["href"]
    resp = client.request("DELETE", f"/recordings/{stored.recording_id}")
    assert resp.status_code == 204 and resp.content == b""
    assert stored.key is not None and stored_object(server, stored.key) is None
    assert not recording_row_exists(server, stored.recording_id)
    assert_error(client.request("GET", f"/recordings/{stored.recording_id}"), 404, "NotFoundError",
                 f"Recording {stored.recording_id} was not found")
    # A link handed out before the delete no longer yields the file.
    assert_error(httpx.get(href, verify=server.ssl), 404, "NotFoundError")
    assert_error(client.request("DELETE", f"/recordings/{stored.recording_id}"), 404, "NotFoundError",
                 f"Recording {stored.recording_id} was not found")
    assert [r["id"] for r in client.session_recordings(session[0])] == [keep.recording_id]
    assert keep.key is not None and stored_object(server, keep.key) == keep.data


def test_delete_when_file_already_gone(client: MeetingsClient, server: Server, session: tuple[str, str]) -> None:
    stored = add_recording(server, client.application_id, *session)
    from meetkit.config import Settings
    from meetkit.storage.objects import LocalObjectStore

    assert stored.key is not None
    LocalObjectStore(Settings(data_dir=server.data_dir).objects_dir).delete(stored.key)
    assert client.request("DELETE", f"/recordings/{stored.recording_id}").status_code == 204
    assert not recording_row_exists(server, stored.recording_id)


@pytest.mark.parametrize("status", ["started", "stopped", "paused"])
def test_delete_unfinished_recording_is_refused(client: MeetingsClient, server: Server,
                                                session: tuple[str, str], status: str) -> None:
    data = mp4_bytes(1024) if status == "stopped" else None
    stored = add_recording(server, client.application_id, *session, status=status, data=data)
    resp = client.request("DELETE", f"/recordings/{stored.recording_id}")
    body = assert_error(resp, 403, "ForbiddenError")
    assert stored.recording_id in body["message"] and status in body["message"]
    assert recording_row_exists(server, stored.recording_id)
    assert client.get_recording(stored.recording_id)["status"] == status
    if stored.key is not None:
        assert stored_object(server, stored.key) == data
    with pytest.raises(MeetingsApiError) as err:
        client.delete_recording(stored.recording_id)
    assert err.value.status == 403


@pytest.mark.parametrize("rec_id", ["00000000-0000-0000-0000-000000000000", "nope", "x" * 300])
def test_delete_unknown_recording(client: MeetingsClient, rec_id: str) -> None:
    resp = client.request("DELETE", f"/recordings/{rec_id}")
    assert resp.json() == {"message": f"Recording {rec_id} was not found", "name": "NotFoundError", "status": 404}


# ---- GET /dial-in-numbers ------------------------------------------------------------------------------


def test_dial_in_numbers(client: MeetingsClient) -> None:
    resp = client.request("GET", "/dial-in-numbers")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("application/json")
    assert resp.json() == [{"number": "+441234567890", "locale": "en-GB", "display_name": "United Kingdom"}]
    assert client.dial_in_numbers() == resp.json()


def test_dial_in_numbers_on_aliases(client: MeetingsClient, server: Server) -> None:
    for prefix in ("/beta/meetings", "/meetings"):
        resp = httpx.get(f"{server.base_url}{prefix}/dial-in-numbers", verify=server.ssl,
                         headers={"Authorization": f"Bearer {client.token()}"})
        assert resp.status_code == 200 and resp.json()[0]["number"] == "+441234567890"


def test_dial_in_numbers_from_configuration(tmp_path: Path) -> None:
    """Another configuration, another list (and none configured: an empty array)."""
    from ..support import start_server, stop_server

    numbers = ('[{"number": "+14155550100", "locale": "en-US", "display_name": "United States"},'
               ' {"number": "+33100000000", "locale": "fr-FR", "display_name": "France"}]')
    for env, expected in (
        ({"MEETKIT_DIAL_IN_NUMBERS": numbers}, [
            {"number": "+14155550100", "locale": "en-US", "display_name": "United States"},
            {"number": "+33100000000", "locale": "fr-FR", "display_name": "France"},
        ]),
        ({"MEETKIT_DIAL_IN_NUMBERS": "[]"}, []),
    ):
        folder = tmp_path / uuid.uuid4().hex[:8]
        folder.mkdir()
        srv = start_server("sqlite", folder, extra_env=env)
        try:
            from meetkit.actions.applications import do_create_application

            async def make(s: Server = srv, f: Path = folder) -> tuple[str, str]:
                c = _container(s)
                try:
                    made = await do_create_application(c, "numbers", key_dir=f)
                finally:
                    await c.engine.dispose()
                return made.application_id, made.private_key_path.read_text()

            app_id, key = run(make())
            with MeetingsClient(srv.base_url, app_id, key, verify=str(srv.cert_path)) as c:
                assert c.dial_in_numbers() == expected
        finally:
            stop_server(srv)
