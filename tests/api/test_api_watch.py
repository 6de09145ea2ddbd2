"""Watch together's video routes over real HTTP, on SQLite and PostgreSQL (web/watch.py): only a host
of the running meeting uploads; a page plays it through the signed link, with Range requests."""

from __future__ import annotations

import secrets

import httpx

from meetkit.client import MeetingsClient

from ..support import Server, assert_error, run
from .test_api_board import add_participant
from .test_api_recordings import _container, add_session


def _person(server: Server, application_id: str, room_id: str, session_id: str, *, host: bool) -> dict[str, str]:
    pid, token = add_participant(server, application_id, room_id, session_id, host=host)
    return {"X-Meetkit-Participant": pid, "Authorization": f"Bearer {token}"}


def _link(server: Server, code: str, file_id: str) -> str:
    from meetkit.actions import watch

    c = _container(server)
    try:
        return watch.file_link(c, code, file_id)
    finally:
        run(c.engine.dispose())


def test_upload_and_play_with_ranges(client: MeetingsClient, server: Server) -> None:
    room = client.create_room({"display_name": "film"})
    session_id = add_session(server, client.application_id, room["id"], ended=False)
    host = _person(server, client.application_id, room["id"], session_id, host=True)
    guest = _person(server, client.application_id, room["id"], session_id, host=False)
    url = f"{server.base_url}/_meetkit/watch/{room['meeting_code']}/files"
    film = b"\x1a\x45\xdf\xa3" + secrets.token_bytes(300_000)  # a WebM's first bytes, then noise
    with httpx.Client(verify=str(server.cert_path), timeout=20) as http:
        assert_error(http.post(url, content=film, headers={**guest, "Content-Type": "video/webm"}), 403)
        assert_error(http.post(url, content=film, headers={"Content-Type": "video/webm"}), 403)
        assert_error(http.post(url, content=b"<html>", headers={**host, "Content-Type": "text/html"}), 415)
        assert_error(http.post(url, content=b"", headers={**host, "Content-Type": "video/webm"}), 400)
        made = http.post(url, content=film, headers={**host, "Content-Type": "video/webm"})
        assert made.status_code == 201, made.text
        file_id = made.json()["file_id"]

        link = server.base_url + _link(server, room["meeting_code"], file_id)
        whole = http.get(link)
        assert whole.status_code == 200 and whole.content == film
        assert whole.headers["content-type"] == "video/webm" and whole.headers["accept-ranges"] == "bytes"
        part = http.get(link, headers={"Range": "bytes=1000-1999"})
        assert part.status_code == 206 and part.content == film[1000:2000]
        assert part.headers["content-range"] == f"bytes 1000-1999/{len(film)}"
        # The signature is the permission: altered, expired or for another meeting, nothing.
        assert_error(http.get(link.replace("sig=", "sig=0")), 403)
        assert_error(http.get(link.replace("expires=", "expires=1")), 403)
        other = client.create_room({"display_name": "other"})
        assert_error(http.get(server.base_url + _link(server, other["meeting_code"], file_id)), 404)
