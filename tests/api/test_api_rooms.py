"""Rooms over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from meetkit.client import MeetingsApiError, MeetingsClient

from ..support import Server, insert_recording, other_client, run, server_container, start_server

ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def ahead(**kw: float) -> str:
    return (datetime.now(UTC) + timedelta(**kw)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_create_instant_room_defaults(client: MeetingsClient, server) -> None:
    room = client.create_room({"display_name": "Stand-up", "unknown_field": 1})
    assert room["type"] == "instant"
    assert room["display_name"] == "Stand-up"
    assert room["metadata"] is None and room["theme_id"] is None
    assert room["is_available"] is True
    assert re.fullmatch(r"[1-9]\d{8}", room["meeting_code"])
    assert ISO_Z.match(room["created_at"]) and ISO_Z.match(room["expires_at"])
    created = datetime.fromisoformat(room["created_at"])
    assert datetime.fromisoformat(room["expires_at"]) - created == timedelta(minutes=10)
    assert room["join_approval_level"] == "none"
    assert room["recording_options"] == {"auto_record": False, "record_only_owner": False}
    assert room["initial_join_options"] == {"microphone_state": "default"}
    assert room["available_features"] == {
        "is_recording_available": True, "is_chat_available": True, "is_whiteboard_available": True,
        "is_locale_switcher_available": True, "is_captions_available": False,
    }
    assert room["ui_settings"] == {"language": "en"}
    assert room["callback_urls"] == {
        "rooms_callback_url": None, "sessions_callback_url": None, "recordings_callback_url": None,
    }
    guest = room["_links"]["guest_url"]["href"]
    host = room["_links"]["host_url"]["href"]
    assert guest == f"{server.base_url}/{room['meeting_code']}"
    assert host.startswith(guest + "?participant_token=") and len(host) > len(guest) + 40
    assert "unknown_field" not in room
    assert client.get_room(room["id"]) == room


def test_create_long_term_room_all_fields(client: MeetingsClient) -> None:
    body = {
        "display_name": "Board", "metadata": "crm:42", "type": "long_term",
        "expires_at": "2099-01-01 00:00:00", "expire_after_use": True,
        "join_approval_level": "explicit_approval",
        "recording_options": {"auto_record": True},
        "initial_join_options": {"microphone_state": "off"},
        "callback_urls": {"rooms_callback_url": "https://example.test/rooms"},
        "available_features": {"is_chat_available": False},
        "ui_settings": {"language": "PT"},
    }
    with pytest.raises(MeetingsApiError) as err:
        client.create_room(body)  # 2099 is more than a year ahead
    assert err.value.status == 400 and "one year" in err.value.body["message"]
    body["expires_at"] = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%S+0000")
    room = client.create_room(body)
    assert room["type"] == "long_term" and room["expire_after_use"] is True
    assert room["metadata"] == "crm:42"
    assert room["recording_options"] == {"auto_record": True, "record_only_owner": False}
    assert room["initial_join_options"] == {"microphone_state": "off"}
    assert room["callback_urls"]["rooms_callback_url"] == "https://example.test/rooms"
    assert room["callback_urls"]["sessions_callback_url"] is None
    assert room["available_features"]["is_chat_available"] is False
    assert room["available_features"]["is_recording_available"] is True
    assert room["ui_settings"] == {"language": "pt-br"}
    assert room["expires_at"].endswith("Z")


@pytest.mark.parametrize("shape", ["%Y-%m-%dT%H:%M:%S+0000", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S.000",
                                   "%Y-%m-%dT%H:%M:%S.123Z"])
def test_long_term_date_shapes(client: MeetingsClient, shape: str) -> None:
    when = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    room = client.create_room({"display_name": "x", "type": "long_term", "expires_at": when.strftime(shape)})
    got = datetime.fromisoformat(room["expires_at"])
    assert abs((got - when).total_seconds()) < 1


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({}, "display_name"),
        ({"display_name": ""}, "display_name"),
        ({"display_name": "x" * 201}, "display_name"),
        ({"display_name": 5}, "display_name"),
        ({"display_name": "x", "metadata": "m" * 501}, "metadata"),
        ({"display_name": "x", "type": "forever"}, "type"),
        ({"display_name": "x", "type": "long_term"}, "expires_at"),
        ({"display_name": "x", "type": "long_term", "expires_at": "not a date"}, "expires_at"),
        ({"display_name": "x", "type": "long_term", "expires_at": "2020-01-01T00:00:00Z"}, "future"),
        ({"display_name": "x", "join_approval_level": "maybe"}, "join_approval_level"),
        ({"display_name": "x", "initial_join_options": {"microphone_state": "loud"}}, "microphone_state"),
        ({"display_name": "x", "callback_urls": {"rooms_callback_url": "ftp://x"}}, "rooms_callback_url"),
        ({"display_name": "x", "ui_settings": {"language": "xx"}}, "language"),
        ({"display_name": "x", "theme_id": "not-a-uuid"}, "theme_id"),
        ({"display_name": "x", "recording_options": "yes"}, "recording_options"),
        ([1, 2], "body"),
    ],
)
def test_create_room_bad_input(client: MeetingsClient, body: object, fragment: str) -> None:
    resp = client.request("POST", "/rooms", json=body)
    assert resp.status_code == 400, resp.text
    err = resp.json()
    assert err["status"] == 400 and err["name"] in ("BadRequestError", "InputValidationError")
    assert fragment in err["message"] + " ".join(map(str, err.get("errors", [])))


def test_malformed_json_is_400(client: MeetingsClient) -> None:
    resp = client._http.post("/rooms", content=b"{not json", headers={
        "Authorization": f"Bearer {client.token()}", "Content-Type": "application/json"})
    assert resp.status_code == 400 and resp.json()["name"] == "InputValidationError"


def test_unknown_theme_is_404(client: MeetingsClient) -> None:
    body = {"display_name": "x", "theme_id": "8b1e7a0e-7c4f-4d3c-9a54-1f2e3d4c5b6a"}
    resp = client.request("POST", "/rooms", json=body)
    assert resp.status_code == 404
    assert resp.json() == {"message": "could not find theme 8b1e7a0e-7c4f-4d3c-9a54-1f2e3d4c5b6a",
                           "name": "NotFoundError", "status": 404}


def test_get_unknown_room_is_404(client: MeetingsClient) -> None:
    for rid in ("nope", "00000000-0000-0000-0000-000000000000", "x" * 300):
        resp = client.request("GET", f"/rooms/{rid}")
        assert resp.status_code == 404 and resp.json()["name"] == "NotFoundError"


def test_update_long_term_room(client: MeetingsClient) -> None:
    room = client.create_room({"display_name": "x", "type": "long_term", "expires_at": ahead(days=2)})
    new_expiry = ahead(days=40)
    updated = client.update_room(room["id"], {
        "expires_at": new_expiry, "expire_after_use": True, "join_approval_level": "after_owner_only",
        "available_features": {"is_whiteboard_available": False}, "ui_settings": {"language": "de"},
        "callback_urls": {"sessions_callback_url": "http://127.0.0.1:9/s"},
    })
    assert updated["expire_after_use"] is True
    assert updated["join_approval_level"] == "after_owner_only"
    assert updated["available_features"]["is_whiteboard_available"] is False
    assert updated["available_features"]["is_chat_available"] is True
    assert updated["ui_settings"] == {"language": "de"}
    assert updated["callback_urls"]["sessions_callback_url"] == "http://127.0.0.1:9/s"
    assert updated["expires_at"][:19] == new_expiry[:19]
    assert client.get_room(room["id"]) == updated
    # The Node SDK wraps the same details in update_options.
    resp = client.request("PATCH", f"/rooms/{room['id']}", json={"update_options": {"display_name": "renamed"}})
    assert resp.status_code == 200 and resp.json()["display_name"] == "renamed"


def test_update_rules(client: MeetingsClient) -> None:
    instant = client.create_room({"display_name": "x"})
    resp = client.request("PATCH", f"/rooms/{instant['id']}", json={"update_details": {"expire_after_use": True}})
    assert resp.status_code == 400
    assert resp.json()["message"] == (
        f"The room with id: {instant['id']} could not be updated because of its type: temporary")
    lt = client.create_room({"display_name": "x", "type": "long_term", "expires_at": ahead(days=2)})
    for body in ({"update_details": {}}, {}, {"update_details": {"nothing_known": 1}}):
        resp = client.request("PATCH", f"/rooms/{lt['id']}", json=body)
        assert resp.status_code == 400
        assert resp.json() == {"message": '"update_details" must have at least 1 key',
                               "name": "InputValidationError", "status": 400}
    resp = client.request("PATCH", f"/rooms/{lt['id']}", json={"update_details": {"expires_at": ahead(minutes=5)}})
    assert resp.status_code == 400
    resp = client.request("PATCH", "/rooms/00000000-0000-0000-0000-000000000000",
                          json={"update_details": {"expire_after_use": True}})
    assert resp.status_code == 404


def test_paging_follows_serial_numbers(client: MeetingsClient) -> None:
    ids = [client.create_room({"display_name": f"r{i}"})["id"] for i in range(7)]
    first = client.list_rooms_page(page_size=3)
    assert first["page_size"] == 3 and first["total_items"] == 7
    assert isinstance(first["_embedded"], list)
    assert [r["id"] for r in first["_embedded"]] == ids[:3]
    links = first["_links"]
    for rel in ("first", "self", "next"):
        assert httpx.URL(links[rel]["href"]).is_absolute_url
    assert "prev" not in links  # nothing precedes the first page
    seen = [r["id"] for r in client.iter_rooms(page_size=3)]
    assert seen == ids
    nxt = httpx.URL(links["next"]["href"])
    start = int(nxt.params["start_id"])
    second = client.list_rooms_page(page_size=3, start_id=start)
    assert [r["id"] for r in second["_embedded"]] == ids[3:6]
    prev = httpx.URL(second["_links"]["prev"]["href"])
    back = client.list_rooms_page(page_size=3, end_id=int(prev.params["end_id"]))
    assert [r["id"] for r in back["_embedded"]] == ids[:3]
    last = client.list_rooms_page(page_size=3, start_id=start + 3)
    assert [r["id"] for r in last["_embedded"]] == ids[6:]
    assert "next" not in last["_links"]
    for bad in ({"page_size": 0}, {"page_size": 1001}, {"page_size": "x"}, {"start_id": "abc"}, {"end_id": -1}):
        resp = client.request("GET", "/rooms", params=bad)
        assert resp.status_code == 400, (bad, resp.text)


def test_rooms_are_scoped_to_their_application(server, client: MeetingsClient, tmp_path) -> None:
    room = client.create_room({"display_name": "mine"})
    with other_client(server, tmp_path) as stranger:
        assert stranger.request("GET", f"/rooms/{room['id']}").status_code == 404
        assert stranger.list_rooms_page()["total_items"] == 0


def test_room_limit_and_aliases(client: MeetingsClient, server) -> None:
    for prefix in ("/beta/meetings", "/meetings"):
        resp = httpx.get(f"{server.base_url}{prefix}/rooms", verify=server.ssl,
                         headers={"Authorization": f"Bearer {client.token()}"})
        assert resp.status_code == 200


def test_guest_and_host_urls_resolve(client: MeetingsClient, server) -> None:
    room = client.create_room({"display_name": "<b>Team</b>"})
    guest = httpx.get(room["_links"]["guest_url"]["href"], verify=server.ssl)
    host = httpx.get(room["_links"]["host_url"]["href"], verify=server.ssl)
    assert guest.status_code == 200 and '"role":"guest"' in guest.text
    assert host.status_code == 200 and '"role":"host"' in host.text
    assert "<b>Team</b>" not in guest.text and "&lt;b&gt;Team&lt;/b&gt;" in guest.text
    forged = httpx.get(room["_links"]["guest_url"]["href"] + "?participant_token=forged", verify=server.ssl)
    assert '"role":"guest"' in forged.text
    assert httpx.get(f"{server.base_url}/000000001", verify=server.ssl).status_code == 404


def test_delete_room_extension(client: MeetingsClient) -> None:
    room = client.create_room({"display_name": "x"})
    client.delete_room(room["id"])
    assert client.request("GET", f"/rooms/{room['id']}").status_code == 404
    assert client.request("DELETE", f"/rooms/{room['id']}").status_code == 404


def test_delete_room_with_recordings_is_409(client: MeetingsClient, server) -> None:
    from meetkit.storage import tables as t

    _session_id, recording_id = insert_recording(server, client.application_id)

    async def room_of() -> str:
        async with server_container(server) as c, c.sessions() as db:
            rec = await db.get(t.Recording, recording_id)
            assert rec is not None
            return rec.room_id

    room_id = run(room_of())
    resp = client.request("DELETE", f"/rooms/{room_id}")
    assert resp.status_code == 409 and resp.json()["name"] == "ConflictError"
    assert "recording" in resp.json()["message"]
    client.delete_recording(recording_id)
    assert client.request("DELETE", f"/rooms/{room_id}").status_code == 204


def test_room_limit_is_403(server: Server, application: tuple[str, str], tmp_path) -> None:
    """A second server on the same database, with a limit of 3 live rooms per application."""
    limited = start_server(server.backend, tmp_path, {"MEETKIT_MAX_ROOMS_PER_APPLICATION": "3"},
                           database_url=server.database_url)
    try:
        app_id, key = application
        with MeetingsClient(limited.base_url, app_id, key, verify=str(limited.cert_path)) as c:
            for i in range(3):
                c.create_room({"display_name": f"r{i}"})
            resp = c.request("POST", "/rooms", json={"display_name": "one too many"})
            assert resp.status_code == 403
            assert resp.json() == {"message": "Maximum number of rooms (3) reached for this application",
                                   "name": "ForbiddenError", "status": 403}
            assert c.list_rooms_page()["total_items"] == 3
    finally:
        limited.process.terminate()
        limited.process.wait(timeout=10)
