"""Themes and the application's default theme over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from meetkit.client import MeetingsApiError, MeetingsClient

from .. import support
from ..support import Server, assert_error, run

THEME_KEYS = {
    "theme_id", "theme_name", "domain", "account_id", "application_id", "main_color", "short_company_url",
    "brand_text", "brand_image_colored", "brand_image_white", "branded_favicon", "brand_image_colored_url",
    "brand_image_white_url", "branded_favicon_url",
}
UNKNOWN = "8b1e7a0e-7c4f-4d3c-9a54-1f2e3d4c5b6a"


def other_client(server: Server, tmp_path: Path) -> MeetingsClient:
    return support.other_client(server, tmp_path / "other")


def unique_short() -> str:
    return f"co-{uuid.uuid4().hex[:12]}"


def ahead(**kw: float) -> str:
    return (datetime.now(UTC) + timedelta(**kw)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def application_default(server: Server, application_id: str) -> str | None:
    """The stored default theme (there is no GET /applications in v1)."""
    from meetkit.storage import tables as t

    async def read() -> str | None:
        async with support.server_container(server) as c, c.sessions() as db:
            app = await db.get(t.Application, application_id)
            assert app is not None
            return app.default_theme_id

    return run(read())


# ---- create / get / list ------------------------------------------------------------------------------


def test_create_minimal_theme(client: MeetingsClient) -> None:
    resp = client.request("POST", "/themes", json={"main_color": "#12ab3F", "brand_text": "Acme"})
    assert resp.status_code == 201, resp.text
    theme = resp.json()
    assert set(theme) == THEME_KEYS
    uuid.UUID(theme["theme_id"])
    assert theme["theme_name"] == theme["theme_id"]
    assert theme["domain"] == "VCP"
    assert theme["application_id"] == client.application_id
    assert isinstance(theme["account_id"], str) and theme["account_id"]
    assert theme["main_color"] == "#12ab3F" and theme["brand_text"] == "Acme"
    for key in THEME_KEYS - {"theme_id", "theme_name", "domain", "account_id", "application_id", "main_color",
                             "brand_text"}:
        assert theme[key] is None, key
    assert client.get_theme(theme["theme_id"]) == theme


def test_create_full_theme_and_list(client: MeetingsClient) -> None:
    short = unique_short()
    a = client.create_theme({"theme_name": "Blue", "main_color": "#00f", "brand_text": "Blue Co",
                             "short_company_url": short, "unknown_field": 1, "domain": "ignored"})
    assert a["theme_name"] == "Blue" and a["main_color"] == "#00f" and a["short_company_url"] == short
    assert a["domain"] == "VCP" and "unknown_field" not in a
    b = client.create_theme({"theme_name": None, "main_color": "#FFFFFF", "brand_text": "White"})
    assert b["theme_name"] == b["theme_id"]
    listed = client.list_themes()
    assert listed == [a, b]
    assert client.get_theme(a["theme_id"]) == a


def test_empty_list_is_an_array(client: MeetingsClient) -> None:
    resp = client.request("GET", "/themes")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("application/json")
    assert resp.json() == [] and resp.text.strip() == "[]"


@pytest.mark.parametrize("color", ["#abc", "#ABC", "#a1B2c3", "#000000", "#fff"])
def test_main_color_accepted(client: MeetingsClient, color: str) -> None:
    assert client.create_theme({"main_color": color, "brand_text": "x"})["main_color"] == color


@pytest.mark.parametrize(
    "short", ["_", "~", "-", "a", "1a", "a1", "Acme_Corp-2~", "x" * 128, "123-"],
)
def test_short_company_url_accepted(client: MeetingsClient, short: str) -> None:
    theme = client.create_theme({"main_color": "#000", "brand_text": "x", "short_company_url": short})
    assert theme["short_company_url"] == short
    # Free them again: the short URL is unique across the whole server.
    client.delete_theme(theme["theme_id"])


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({}, "main_color"),
        ({"brand_text": "x"}, "main_color"),
        ({"main_color": "#fff"}, "brand_text"),
        ({"main_color": None, "brand_text": "x"}, "main_color"),
        ({"main_color": "#fff", "brand_text": None}, "brand_text"),
        ({"main_color": "red", "brand_text": "x"}, "main_color"),
        ({"main_color": "fff", "brand_text": "x"}, "main_color"),
        ({"main_color": "123456", "brand_text": "x"}, "main_color"),
        ({"main_color": "#12345", "brand_text": "x"}, "main_color"),
        ({"main_color": "#1234", "brand_text": "x"}, "main_color"),
        ({"main_color": "#1234567", "brand_text": "x"}, "main_color"),
        ({"main_color": "#GGG", "brand_text": "x"}, "main_color"),
        ({"main_color": "#fff\n", "brand_text": "x"}, "main_color"),
        ({"main_color": " #fff", "brand_text": "x"}, "main_color"),
        ({"main_color": 123, "brand_text": "x"}, "main_color"),
        ({"main_color": "#fff", "brand_text": "b" * 201}, "brand_text"),
        ({"main_color": "#fff", "brand_text": 5}, "brand_text"),
        ({"main_color": "#fff", "brand_text": "x", "theme_name": "n" * 201}, "theme_name"),
        ({"main_color": "#fff", "brand_text": "x", "theme_name": 7}, "theme_name"),
        ({"main_color": "#fff", "brand_text": "x", "short_company_url": "12345"}, "short_company_url"),
        ({"main_color": "#fff", "brand_text": "x", "short_company_url": ""}, "short_company_url"),
        ({"main_color": "#fff", "brand_text": "x", "short_company_url": "has space"}, "short_company_url"),
        ({"main_color": "#fff", "brand_text": "x", "short_company_url": "a/b"}, "short_company_url"),
        ({"main_color": "#fff", "brand_text": "x", "short_company_url": "a.b"}, "short_company_url"),
        ({"main_color": "#fff", "brand_text": "x", "short_company_url": "caf\u00e9"}, "short_company_url"),
        ({"main_color": "#fff", "brand_text": "x", "short_company_url": "acme\n"}, "short_company_url"),
        ({"main_color": "#fff", "brand_text": "x", "short_company_url": "a" * 129}, "short_company_url"),
        ({"main_color": "#fff", "brand_text": "x", "short_company_url": 42}, "short_company_url"),
        ([{"main_color": "#fff", "brand_text": "x"}], "body"),
    ],
)
def test_create_theme_bad_input(client: MeetingsClient, body: Any, fragment: str) -> None:
    resp = client.request("POST", "/themes", json=body)
    err = assert_error(resp, 400)
    assert err["name"] in ("InputValidationError", "BadRequestError")
    assert fragment in err["message"] + " ".join(map(str, err.get("errors", [])))
    assert client.list_themes() == []


def test_malformed_json_is_400(client: MeetingsClient) -> None:
    resp = client._http.post("/themes", content=b"{not json", headers={
        "Authorization": f"Bearer {client.token()}", "Content-Type": "application/json"})
    assert_error(resp, 400, "InputValidationError")


@pytest.mark.parametrize("theme_id", [UNKNOWN, "nope", "x" * 300])
def test_get_unknown_theme(client: MeetingsClient, theme_id: str) -> None:
    assert_error(client.request("GET", f"/themes/{theme_id}"), 404, "NotFoundError",
                 f"could not find theme {theme_id}")


def test_logos_upload_urls_is_not_a_theme_id(client: MeetingsClient) -> None:
    resp = client.request("GET", "/themes/logos-upload-urls")
    assert resp.status_code == 200 and isinstance(resp.json(), list) and len(resp.json()) == 3


# ---- duplicates ----------------------------------------------------------------------------------------


def test_duplicate_theme_name(client: MeetingsClient, server: Server, tmp_path: Path) -> None:
    client.create_theme({"theme_name": "Corporate", "main_color": "#fff", "brand_text": "x"})
    resp = client.request("POST", "/themes", json={"theme_name": "Corporate", "main_color": "#000",
                                                   "brand_text": "y"})
    assert resp.json() == {"message": "theme_name already exists in application", "name": "ConflictError",
                           "status": 409}
    assert_error(resp, 409, "ConflictError")
    assert len(client.list_themes()) == 1
    # Another application may use the same name.
    with other_client(server, tmp_path) as other:
        assert other.create_theme({"theme_name": "Corporate", "main_color": "#fff", "brand_text": "x"})


def test_duplicate_short_company_url_across_applications(client: MeetingsClient, server: Server,
                                                        tmp_path: Path) -> None:
    short = unique_short()
    client.create_theme({"main_color": "#fff", "brand_text": "x", "short_company_url": short})
    resp = client.request("POST", "/themes", json={"main_color": "#fff", "brand_text": "x",
                                                   "short_company_url": short})
    assert resp.json() == {"message": "short_company_url already exists", "name": "ConflictError", "status": 409}
    with other_client(server, tmp_path) as other:
        resp = other.request("POST", "/themes", json={"main_color": "#fff", "brand_text": "x",
                                                      "short_company_url": short})
        assert_error(resp, 409, "ConflictError", "short_company_url already exists")
        assert other.list_themes() == []


def test_generated_names_do_not_clash(client: MeetingsClient) -> None:
    themes = [client.create_theme({"main_color": "#fff", "brand_text": "x"}) for _ in range(3)]
    assert len({t["theme_name"] for t in themes}) == 3


def test_concurrent_duplicate_names_one_wins(client: MeetingsClient, server: Server) -> None:
    import asyncio

    async def race() -> list[int]:
        async with httpx.AsyncClient(base_url=f"{server.base_url}/v1/meetings", verify=server.ssl,
                                     timeout=30) as c:
            resps = await asyncio.gather(*(
                c.post("/themes", json={"theme_name": "Same", "main_color": "#fff", "brand_text": "x"},
                       headers={"Authorization": f"Bearer {client.token()}"})
                for _ in range(6)
            ))
        for r in resps:
            if r.status_code != 201:
                # The contract's own message, even when the loser only finds out from the database.
                assert_error(r, 409, "ConflictError", "theme_name already exists in application")
        return sorted(r.status_code for r in resps)

    assert asyncio.run(race()) == [201] + [409] * 5
    assert [t["theme_name"] for t in client.list_themes()] == ["Same"]


def test_concurrent_duplicate_short_urls_one_wins(client: MeetingsClient, server: Server) -> None:
    import asyncio

    short = unique_short()

    async def race() -> list[int]:
        async with httpx.AsyncClient(base_url=f"{server.base_url}/v1/meetings", verify=server.ssl,
                                     timeout=30) as c:
            resps = await asyncio.gather(*(
                c.post("/themes", json={"main_color": "#fff", "brand_text": "x", "short_company_url": short},
                       headers={"Authorization": f"Bearer {client.token()}"})
                for _ in range(6)
            ))
        for r in resps:
            if r.status_code != 201:
                assert_error(r, 409, "ConflictError", "short_company_url already exists")
        return sorted(r.status_code for r in resps)

    assert asyncio.run(race()) == [201] + [409] * 5


def test_concurrent_updates_to_one_short_url(client: MeetingsClient, server: Server) -> None:
    import asyncio

    short = unique_short()
    ids = [client.create_theme({"main_color": "#fff", "brand_text": "x"})["theme_id"] for _ in range(6)]

    async def race() -> list[int]:
        async with httpx.AsyncClient(base_url=f"{server.base_url}/v1/meetings", verify=server.ssl,
                                     timeout=30) as c:
            resps = await asyncio.gather(*(
                c.patch(f"/themes/{tid}", json={"update_details": {"short_company_url": short}},
                        headers={"Authorization": f"Bearer {client.token()}"})
                for tid in ids
            ))
        for r in resps:
            if r.status_code != 200:
                assert_error(r, 409, "ConflictError", "short_company_url already exists")
        return sorted(r.status_code for r in resps)

    assert asyncio.run(race()) == [200] + [409] * 5
    assert [t["short_company_url"] for t in client.list_themes()].count(short) == 1


# ---- update --------------------------------------------------------------------------------------------


def test_update_theme(client: MeetingsClient) -> None:
    theme = client.create_theme({"theme_name": "Old", "main_color": "#fff", "brand_text": "x"})
    short = unique_short()
    updated = client.update_theme(theme["theme_id"], {"main_color": "#123456", "short_company_url": short})
    assert updated["main_color"] == "#123456" and updated["short_company_url"] == short
    assert updated["theme_name"] == "Old" and updated["brand_text"] == "x"
    assert set(updated) == THEME_KEYS
    assert client.get_theme(theme["theme_id"]) == updated
    renamed = client.update_theme(theme["theme_id"], {"theme_name": "New", "brand_text": "y", "unknown": 1})
    assert renamed["theme_name"] == "New" and renamed["brand_text"] == "y"
    # Keeping its own name and short URL is no conflict.
    same = client.update_theme(theme["theme_id"], {"theme_name": "New", "short_company_url": short})
    assert same == renamed
    # short_company_url may be cleared.
    cleared = client.update_theme(theme["theme_id"], {"short_company_url": None})
    assert cleared["short_company_url"] is None


@pytest.mark.parametrize("body", [{"update_details": {}}, {"update_details": {"nothing_known": 1}}])
def test_update_needs_a_key(client: MeetingsClient, body: dict) -> None:
    theme = client.create_theme({"main_color": "#fff", "brand_text": "x"})
    resp = client.request("PATCH", f"/themes/{theme['theme_id']}", json=body)
    assert resp.json() == {"message": '"update_details" must have at least 1 key',
                           "name": "InputValidationError", "status": 400}


@pytest.mark.parametrize("body", [{}, {"update_details": None}, {"update_details": "x"}, []])
def test_update_without_details(client: MeetingsClient, body: Any) -> None:
    theme = client.create_theme({"main_color": "#fff", "brand_text": "x"})
    resp = client.request("PATCH", f"/themes/{theme['theme_id']}", json=body)
    assert_error(resp, 400, "InputValidationError")
    assert client.get_theme(theme["theme_id"]) == theme


@pytest.mark.parametrize(
    "details",
    [
        {"main_color": "blue"}, {"main_color": None}, {"brand_text": None}, {"theme_name": None},
        {"brand_text": "b" * 201}, {"theme_name": "n" * 201}, {"short_company_url": "999"},
        {"short_company_url": "a" * 129}, {"short_company_url": "bad url"}, {"short_company_url": "x\n"},
    ],
)
def test_update_bad_input(client: MeetingsClient, details: dict) -> None:
    theme = client.create_theme({"main_color": "#fff", "brand_text": "x"})
    resp = client.request("PATCH", f"/themes/{theme['theme_id']}", json={"update_details": details})
    err = assert_error(resp, 400)
    assert err["name"] in ("InputValidationError", "BadRequestError")
    assert next(iter(details)) in err["message"] + " ".join(map(str, err.get("errors", [])))
    assert client.get_theme(theme["theme_id"]) == theme


def test_update_conflicts(client: MeetingsClient, server: Server, tmp_path: Path) -> None:
    short = unique_short()
    client.create_theme({"theme_name": "Taken", "main_color": "#fff", "brand_text": "x"})
    with other_client(server, tmp_path) as other:
        other.create_theme({"main_color": "#fff", "brand_text": "x", "short_company_url": short})
    theme = client.create_theme({"theme_name": "Mine", "main_color": "#fff", "brand_text": "x"})
    resp = client.request("PATCH", f"/themes/{theme['theme_id']}", json={"update_details": {"theme_name": "Taken"}})
    assert resp.json() == {"message": "theme_name already exists in application", "name": "ConflictError",
                           "status": 409}
    resp = client.request("PATCH", f"/themes/{theme['theme_id']}",
                          json={"update_details": {"short_company_url": short}})
    assert resp.json() == {"message": "short_company_url already exists", "name": "ConflictError", "status": 409}
    assert client.get_theme(theme["theme_id"]) == theme


def test_update_unknown_theme(client: MeetingsClient) -> None:
    resp = client.request("PATCH", f"/themes/{UNKNOWN}", json={"update_details": {"brand_text": "x"}})
    assert resp.json() == {"message": f"could not find theme {UNKNOWN}", "name": "NotFoundError", "status": 404}


# ---- delete --------------------------------------------------------------------------------------------


def test_delete_unused_theme(client: MeetingsClient) -> None:
    theme = client.create_theme({"main_color": "#fff", "brand_text": "x", "short_company_url": unique_short()})
    resp = client.request("DELETE", f"/themes/{theme['theme_id']}")
    assert resp.status_code == 204 and resp.content == b""
    assert_error(client.request("GET", f"/themes/{theme['theme_id']}"), 404, "NotFoundError")
    assert_error(client.request("DELETE", f"/themes/{theme['theme_id']}"), 404, "NotFoundError",
                 f"could not find theme {theme['theme_id']}")
    assert client.list_themes() == []
    # Its name and short URL are free again.
    again = client.create_theme({"theme_name": theme["theme_name"], "main_color": "#fff", "brand_text": "x",
                                 "short_company_url": theme["short_company_url"]})
    assert again["theme_id"] != theme["theme_id"]


def test_delete_theme_in_use_by_rooms(client: MeetingsClient) -> None:
    theme = client.create_theme({"main_color": "#fff", "brand_text": "x"})
    tid = theme["theme_id"]
    room = client.create_room({"display_name": "r", "theme_id": tid})
    assert room["theme_id"] == tid
    for params in ({}, {"force": "false"}, {"force": "False"}, {"force": ""}):
        resp = client.request("DELETE", f"/themes/{tid}", params=params)
        assert resp.json() == {"message": "could not delete theme", "name": "BadRequestError", "status": 400,
                               "errors": [f"Theme {tid} is used by 1 room"]}, params
    client.create_room({"display_name": "r2", "theme_id": tid})
    resp = client.request("DELETE", f"/themes/{tid}")
    assert assert_error(resp, 400, "BadRequestError", "could not delete theme")["errors"] == [
        f"Theme {tid} is used by 2 rooms"]
    assert client.get_theme(tid) == theme
    assert client.get_room(room["id"])["theme_id"] == tid


@pytest.mark.parametrize("force", ["true", "True", "TRUE"])
def test_force_delete_clears_rooms(client: MeetingsClient, force: str) -> None:
    short = unique_short()
    theme = client.create_theme({"main_color": "#fff", "brand_text": "x", "short_company_url": short})
    tid = theme["theme_id"]
    rooms = [client.create_room({"display_name": f"r{i}", "theme_id": tid}) for i in range(2)]
    assert f"/{short}/" in rooms[0]["_links"]["guest_url"]["href"]
    resp = client.request("DELETE", f"/themes/{tid}", params={"force": force})
    assert resp.status_code == 204, resp.text
    assert_error(client.request("GET", f"/themes/{tid}"), 404, "NotFoundError")
    for room in rooms:
        after = client.get_room(room["id"])
        assert after["theme_id"] is None
        assert f"/{short}/" not in after["_links"]["guest_url"]["href"]
        assert after["_links"]["guest_url"]["href"].endswith("/" + room["meeting_code"])


@pytest.mark.parametrize("force", ["bogus", "1", "yes", "tru"])
def test_force_must_be_boolean(client: MeetingsClient, force: str) -> None:
    theme = client.create_theme({"main_color": "#fff", "brand_text": "x"})
    resp = client.request("DELETE", f"/themes/{theme['theme_id']}", params={"force": force})
    err = assert_error(resp, 400)
    assert "force" in err["message"] + " ".join(map(str, err.get("errors", [])))
    assert client.get_theme(theme["theme_id"]) == theme


def test_delete_default_theme(client: MeetingsClient, server: Server) -> None:
    theme = client.create_theme({"main_color": "#fff", "brand_text": "x"})
    tid = theme["theme_id"]
    client.set_default_theme(tid)
    resp = client.request("DELETE", f"/themes/{tid}")
    err = assert_error(resp, 400, "BadRequestError", "could not delete theme")
    assert len(err["errors"]) == 1 and tid in err["errors"][0] and "default" in err["errors"][0]
    assert application_default(server, client.application_id) == tid
    # Both reasons at once.
    client.create_room({"display_name": "r", "theme_id": tid})
    err = assert_error(client.request("DELETE", f"/themes/{tid}"), 400, "BadRequestError", "could not delete theme")
    assert err["errors"][0] == f"Theme {tid} is used by 1 room" and len(err["errors"]) == 2
    assert client.request("DELETE", f"/themes/{tid}", params={"force": "True"}).status_code == 204
    assert application_default(server, client.application_id) is None
    # The application can take a new default afterwards.
    other = client.create_theme({"main_color": "#000", "brand_text": "y"})
    assert client.set_default_theme(other["theme_id"])["default_theme_id"] == other["theme_id"]


def test_delete_unknown_theme(client: MeetingsClient) -> None:
    for params in ({}, {"force": "true"}):
        resp = client.request("DELETE", f"/themes/{UNKNOWN}", params=params)
        assert resp.json() == {"message": f"could not find theme {UNKNOWN}", "name": "NotFoundError",
                               "status": 404}


# ---- rooms by theme ------------------------------------------------------------------------------------


def test_rooms_by_theme_paging(client: MeetingsClient, server: Server) -> None:
    a = client.create_theme({"main_color": "#fff", "brand_text": "a"})["theme_id"]
    b = client.create_theme({"main_color": "#fff", "brand_text": "b"})["theme_id"]
    ids_a: list[str] = []
    for i in range(5):
        ids_a.append(client.create_room({"display_name": f"a{i}", "theme_id": a})["id"])
        client.create_room({"display_name": f"plain{i}"})
        if i % 2:
            client.create_room({"display_name": f"b{i}", "theme_id": b})
    first = client.list_rooms_page(page_size=2, theme_id=a)
    assert set(first) == {"page_size", "total_items", "_embedded", "_links"}
    assert first["page_size"] == 2 and first["total_items"] == 5
    assert [r["id"] for r in first["_embedded"]] == ids_a[:2]
    assert all(r["theme_id"] == a for r in first["_embedded"])
    assert "prev" not in first["_links"]  # nothing precedes the first page
    nxt = httpx.URL(first["_links"]["next"]["href"])
    second = client.list_rooms_page(page_size=2, theme_id=a, start_id=int(nxt.params["start_id"]))
    assert [r["id"] for r in second["_embedded"]] == ids_a[2:4]
    for rel in ("first", "self", "next", "prev"):
        href = httpx.URL(second["_links"][rel]["href"])
        assert href.is_absolute_url and href.path == f"/v1/meetings/themes/{a}/rooms", rel
    prev = httpx.URL(second["_links"]["prev"]["href"])
    back = client.list_rooms_page(page_size=2, theme_id=a, end_id=int(prev.params["end_id"]))
    assert [r["id"] for r in back["_embedded"]] == ids_a[:2]
    # Following the next links gets every room of the theme, in order, and nothing else.
    assert [r["id"] for r in client.iter_rooms(page_size=2, theme_id=a)] == ids_a
    assert [r["id"] for r in client.iter_rooms(page_size=100, theme_id=a)] == ids_a
    last_start = int(httpx.URL(second["_links"]["next"]["href"]).params["start_id"])
    last = client.list_rooms_page(page_size=2, theme_id=a, start_id=last_start)
    assert [r["id"] for r in last["_embedded"]] == ids_a[4:] and "next" not in last["_links"]
    assert client.list_rooms_page(theme_id=b)["total_items"] == 2
    assert client.list_rooms_page()["total_items"] == 12
    # The next link is directly usable (the Node SDK follows it as given).
    resp = httpx.get(first["_links"]["next"]["href"], verify=server.ssl,
                     headers={"Authorization": f"Bearer {client.token()}"})
    assert [r["id"] for r in resp.json()["_embedded"]] == ids_a[2:4]


def test_rooms_by_theme_empty_and_bad_params(client: MeetingsClient) -> None:
    tid = client.create_theme({"main_color": "#fff", "brand_text": "x"})["theme_id"]
    page = client.list_rooms_page(theme_id=tid)
    assert page["page_size"] == 0 and page["total_items"] == 0 and page["_embedded"] == []
    assert "next" not in page["_links"]
    for bad in ({"page_size": 0}, {"page_size": 1001}, {"start_id": "abc"}, {"end_id": -1}):
        assert_error(client.request("GET", f"/themes/{tid}/rooms", params=bad), 400)


def test_room_theme_moves_between_lists(client: MeetingsClient) -> None:
    a = client.create_theme({"main_color": "#fff", "brand_text": "a"})["theme_id"]
    b = client.create_theme({"main_color": "#fff", "brand_text": "b"})["theme_id"]
    room = client.create_room({"display_name": "x", "type": "long_term", "expires_at": ahead(days=3),
                               "theme_id": a})
    client.update_room(room["id"], {"theme_id": b})
    assert client.list_rooms_page(theme_id=a)["total_items"] == 0
    assert [r["id"] for r in client.list_rooms_page(theme_id=b)["_embedded"]] == [room["id"]]


@pytest.mark.parametrize("theme_id", [UNKNOWN, "not-a-uuid"])
def test_rooms_of_unknown_theme(client: MeetingsClient, theme_id: str) -> None:
    resp = client.request("GET", f"/themes/{theme_id}/rooms")
    assert resp.json() == {"message": f"Failed to get rooms because theme id {theme_id} not found",
                           "name": "NotFoundError", "status": 404}


# ---- another application's themes ----------------------------------------------------------------------


def test_themes_are_scoped_to_their_application(client: MeetingsClient, server: Server, tmp_path: Path) -> None:
    theme = client.create_theme({"theme_name": "Mine", "main_color": "#fff", "brand_text": "x"})
    tid = theme["theme_id"]
    client.create_room({"display_name": "r", "theme_id": tid})
    with other_client(server, tmp_path) as other:
        assert other.list_themes() == []
        assert_error(other.request("GET", f"/themes/{tid}"), 404, "NotFoundError", f"could not find theme {tid}")
        assert_error(other.request("PATCH", f"/themes/{tid}", json={"update_details": {"brand_text": "y"}}),
                     404, "NotFoundError")
        assert_error(other.request("DELETE", f"/themes/{tid}", params={"force": "true"}), 404, "NotFoundError")
        assert_error(other.request("GET", f"/themes/{tid}/rooms"), 404, "NotFoundError",
                     f"Failed to get rooms because theme id {tid} not found")
        assert_error(other.request("PUT", f"/themes/{tid}/finalizeLogos", json={"keys": ["x"]}), 404,
                     "NotFoundError")
        assert_error(other.request("POST", "/rooms", json={"display_name": "x", "theme_id": tid}), 404,
                     "NotFoundError", f"could not find theme {tid}")
        assert_error(other.request("PATCH", "/applications", json={"update_details": {"default_theme_id": tid}}),
                     400, "BadRequestError", f"Failed to update application because theme id {tid} not found")
    assert client.get_theme(tid) == theme
    assert client.list_rooms_page(theme_id=tid)["total_items"] == 1


# ---- PATCH /applications -------------------------------------------------------------------------------


def test_set_default_theme(client: MeetingsClient, server: Server) -> None:
    tid = client.create_theme({"main_color": "#fff", "brand_text": "x"})["theme_id"]
    resp = client.request("PATCH", "/applications", json={"update_details": {"default_theme_id": tid}})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert set(body) == {"application_id", "account_id", "default_theme_id"}
    assert body["application_id"] == client.application_id and body["default_theme_id"] == tid
    assert isinstance(body["account_id"], str) and body["account_id"]
    assert body["account_id"] == client.get_theme(tid)["account_id"]
    assert application_default(server, client.application_id) == tid
    cleared = client.set_default_theme(None)
    assert cleared["default_theme_id"] is None
    assert application_default(server, client.application_id) is None


def test_set_unknown_default_theme(client: MeetingsClient, server: Server) -> None:
    tid = client.create_theme({"main_color": "#fff", "brand_text": "x"})["theme_id"]
    client.set_default_theme(tid)
    resp = client.request("PATCH", "/applications", json={"update_details": {"default_theme_id": UNKNOWN}})
    assert resp.json() == {"message": f"Failed to update application because theme id {UNKNOWN} not found",
                           "name": "BadRequestError", "status": 400}
    assert application_default(server, client.application_id) == tid


@pytest.mark.parametrize(
    "body",
    [{}, {"update_details": {}}, {"update_details": {"other": 1}}, {"update_details": {"default_theme_id": "nope"}},
     {"default_theme_id": UNKNOWN}, {"update_details": {"default_theme_id": 5}}],
)
def test_set_default_theme_bad_input(client: MeetingsClient, body: dict) -> None:
    err = assert_error(client.request("PATCH", "/applications", json=body), 400)
    assert err["name"] in ("InputValidationError", "BadRequestError")
    if body.get("update_details") in ({}, {"other": 1}):
        assert err == {"message": '"update_details" must have at least 1 key', "name": "InputValidationError",
                       "status": 400}


# ---- branded meeting links -----------------------------------------------------------------------------


def test_short_company_url_links_resolve(client: MeetingsClient, server: Server) -> None:
    short = unique_short()
    theme = client.create_theme({"main_color": "#a1b2c3", "brand_text": "Acme", "short_company_url": short})
    room = client.create_room({"display_name": "Branded", "theme_id": theme["theme_id"]})
    guest = room["_links"]["guest_url"]["href"]
    host = room["_links"]["host_url"]["href"]
    assert guest == f"{server.base_url}/{short}/{room['meeting_code']}"
    assert host.startswith(guest + "?participant_token=")
    g = httpx.get(guest, verify=server.ssl)
    h = httpx.get(host, verify=server.ssl)
    assert g.status_code == 200 and '"role":"guest"' in g.text and "#a1b2c3" in g.text
    assert h.status_code == 200 and '"role":"host"' in h.text
    # The plain link still reaches the room; another company's prefix does not.
    assert httpx.get(f"{server.base_url}/{room['meeting_code']}", verify=server.ssl).status_code == 200
    assert httpx.get(f"{server.base_url}/{unique_short()}/{room['meeting_code']}",
                     verify=server.ssl).status_code == 404
    # Short URLs are unique without regard to case, so the link typed in another case is the same link.
    assert httpx.get(f"{server.base_url}/{short.upper()}/{room['meeting_code']}", verify=server.ssl).status_code == 200
    # The room list renders the same links.
    listed = client.list_rooms_page(theme_id=theme["theme_id"])["_embedded"][0]
    assert listed["_links"]["guest_url"]["href"] == guest


def test_changing_short_company_url_moves_links(client: MeetingsClient, server: Server) -> None:
    old, new = unique_short(), unique_short()
    tid = client.create_theme({"main_color": "#fff", "brand_text": "x", "short_company_url": old})["theme_id"]
    room = client.create_room({"display_name": "x", "theme_id": tid})
    client.update_theme(tid, {"short_company_url": new})
    guest = client.get_room(room["id"])["_links"]["guest_url"]["href"]
    assert guest == f"{server.base_url}/{new}/{room['meeting_code']}"
    assert httpx.get(guest, verify=server.ssl).status_code == 200
    assert httpx.get(f"{server.base_url}/{old}/{room['meeting_code']}", verify=server.ssl).status_code == 404
    client.update_theme(tid, {"short_company_url": None})
    assert client.get_room(room["id"])["_links"]["guest_url"]["href"] == (
        f"{server.base_url}/{room['meeting_code']}")


def test_theme_without_short_url_keeps_plain_links(client: MeetingsClient, server: Server) -> None:
    tid = client.create_theme({"main_color": "#fff", "brand_text": "x"})["theme_id"]
    room = client.create_room({"display_name": "x", "theme_id": tid})
    assert room["_links"]["guest_url"]["href"] == f"{server.base_url}/{room['meeting_code']}"


# ---- the theme limit -----------------------------------------------------------------------------------


def test_theme_limit(client: MeetingsClient, server: Server) -> None:
    """1000 themes per application: 999 stored directly, the 1000th over HTTP, the 1001st refused."""
    from meetkit.storage import tables as t

    async def fill() -> None:
        async with support.server_container(server) as c:
            limit = c.settings.max_themes_per_application
            assert limit == 1000
            now = datetime.now(UTC)
            async with c.sessions.begin() as db:
                db.add_all([
                    t.Theme(id=str(uuid.uuid4()), application_id=client.application_id, theme_name=f"bulk-{i}",
                            main_color="#fff", brand_text="x", created_at=now)
                    for i in range(limit - 1)
                ])

    run(fill())
    last = client.create_theme({"main_color": "#fff", "brand_text": "x"})
    resp = client.request("POST", "/themes", json={"main_color": "#fff", "brand_text": "x"})
    err = assert_error(resp, 403, "ForbiddenError")
    assert "1000" in err["message"]
    assert len(client.list_themes()) == 1000
    # Deleting one makes room for another.
    client.delete_theme(last["theme_id"])
    client.create_theme({"main_color": "#fff", "brand_text": "x"})


def test_client_helpers_raise_contract_errors(client: MeetingsClient) -> None:
    with pytest.raises(MeetingsApiError) as err:
        client.get_theme(UNKNOWN)
    assert err.value.status == 404 and err.value.body["name"] == "NotFoundError"
