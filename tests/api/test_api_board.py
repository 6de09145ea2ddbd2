"""The whiteboard over real HTTP, on SQLite and PostgreSQL: the page's image routes (who may use them,
what they take) and the REST export (web/board.py, api/board.py). Boards are put in place through
meetkit's own actions, as the meeting socket leaves them (the socket side: tests/e2e/test_e2e_board.py)."""

from __future__ import annotations

import io
import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from PIL import Image

from meetkit.client import MeetingsClient

from ..support import Server, assert_error, run
from .test_api_recordings import _container, add_session


def _png(color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), color).save(buf, format="PNG")
    return buf.getvalue()


def add_participant(server: Server, application_id: str, room_id: str, session_id: str, *,
                    host: bool = False) -> tuple[str, str]:
    """(participant id, resume token) of someone in the running session, as the meeting stores them."""
    from meetkit.domain.lobby import resume_digest
    from meetkit.storage import tables as t

    pid, token = str(uuid.uuid4()), uuid.uuid4().hex

    async def go() -> None:
        c = _container(server)
        try:
            async with c.sessions.begin() as db:
                db.add(t.Participant(id=pid, session_id=session_id, room_id=room_id, application_id=application_id,
                                     name="Pat", is_host=host, joined_at=datetime.now(UTC),
                                     resume_digest=resume_digest(token)))
        finally:
            await c.engine.dispose()

    run(go())
    return pid, token


def _merge(server: Server, session_id: str, elements: list[dict[str, object]]) -> list[dict[str, object]]:
    from meetkit.actions import board

    async def go() -> list[dict[str, object]]:
        c = _container(server)
        try:
            return (await board.do_merge(c, session_id, elements)).won
        finally:
            await c.engine.dispose()

    return run(go())


def test_images_and_export(client: MeetingsClient, server: Server) -> None:
    room = client.create_room({"display_name": "board"})
    session_id = add_session(server, client.application_id, room["id"], ended=False)
    pid, token = add_participant(server, client.application_id, room["id"], session_id)
    files = f"{server.base_url}/_meetkit/board/{room['meeting_code']}/files"
    me = {"X-Meetkit-Participant": pid, "Authorization": f"Bearer {token}"}
    with httpx.Client(verify=str(server.cert_path), timeout=10) as http:
        png = _png()
        # Nobody outside the meeting reads or adds an image; a wrong token is nobody.
        assert_error(http.put(f"{files}/f1", content=png, headers={"Content-Type": "image/png"}), 403)
        assert_error(http.put(f"{files}/f1", content=png, headers={**me, "Authorization": "Bearer nope",
                                                                    "Content-Type": "image/png"}), 403)
        assert_error(http.put(f"{files}/f1", content=b"<svg/>", headers={**me, "Content-Type": "image/svg+xml"}), 415)
        assert_error(http.put(f"{files}/bad%20id", content=png, headers={**me, "Content-Type": "image/png"}), 400)
        big = b"\x89PNG" + b"\0" * (4 * 1024 * 1024 + 10)
        assert_error(http.put(f"{files}/f2", content=big, headers={**me, "Content-Type": "image/png"}), 413)
        assert http.put(f"{files}/f1", content=png, headers={**me, "Content-Type": "image/png"}).status_code == 201
        assert http.put(f"{files}/f1", content=png, headers={**me, "Content-Type": "image/png"}).status_code == 200
        got = http.get(f"{files}/f1", headers=me)
        assert got.status_code == 200 and got.content == png
        assert got.headers["content-type"] == "image/png" and got.headers["x-content-type-options"] == "nosniff"
        assert_error(http.get(f"{files}/f1"), 403)
        assert_error(http.get(f"{files}/missing", headers=me), 404)

    # Two copies of one element: the higher version wins, then at equal versions the lower nonce.
    base = {"id": "r1", "type": "rectangle", "x": 10, "y": 10, "width": 80, "height": 40, "index": "a1",
            "strokeColor": "#1e1e1e", "backgroundColor": "#ffc9c9", "fillStyle": "solid"}
    assert _merge(server, session_id, [{**base, "version": 2, "versionNonce": 50}])
    assert _merge(server, session_id, [{**base, "version": 1, "versionNonce": 1}]) == []
    assert _merge(server, session_id, [{**base, "version": 2, "versionNonce": 60}]) == []
    assert _merge(server, session_id, [{**base, "version": 2, "versionNonce": 40, "width": 120}])[0]["width"] == 120
    _merge(server, session_id, [{"id": "i1", "type": "image", "version": 1, "versionNonce": 7, "x": 0, "y": 80,
                                 "width": 40, "height": 30, "fileId": "f1", "index": "a2"}])

    out = client.request("GET", f"/sessions/{session_id}/whiteboard")
    assert out.status_code == 200 and out.headers["content-disposition"].endswith('whiteboard.excalidraw"')
    doc = json.loads(out.content)
    assert [e["id"] for e in doc["elements"]] == ["r1", "i1"] and doc["elements"][0]["width"] == 120
    assert doc["files"]["f1"]["mimeType"] == "image/png"
    svg = client.request("GET", f"/sessions/{session_id}/whiteboard", params={"format": "svg"})
    assert svg.headers["content-type"].startswith("image/svg+xml") and b"<rect" in svg.content
    pic = client.request("GET", f"/sessions/{session_id}/whiteboard", params={"format": "png"})
    image = Image.open(io.BytesIO(pic.content)).convert("RGB")
    assert image.getpixel((80, 40)) == (255, 201, 201)  # inside the rectangle (origin -20, -10: a 20 px margin)
    assert_error(client.request("GET", f"/sessions/{session_id}/whiteboard", params={"format": "bmp"}), 400)
    # After the meeting: the same board.
    _end_session(server, session_id)
    after = client.request("GET", f"/sessions/{session_id}/whiteboard")
    assert after.status_code == 200 and json.loads(after.content)["elements"] == doc["elements"]
    assert_error(client.request("GET", "/sessions/nope/whiteboard"), 404)


def _end_session(server: Server, session_id: str) -> None:
    from sqlalchemy import update

    from meetkit.storage import tables as t

    async def go() -> None:
        c = _container(server)
        try:
            async with c.sessions.begin() as db:
                await db.execute(update(t.Session).where(t.Session.id == session_id).values(ended_at=datetime.now(UTC)))
        finally:
            await c.engine.dispose()

    run(go())


def _set_read_only(server: Server, session_id: str, on: bool) -> None:
    from meetkit.actions import board

    async def go() -> None:
        c = _container(server)
        try:
            await board.do_set_read_only(c, session_id, on)
        finally:
            await c.engine.dispose()

    run(go())


def test_image_routes_follow_the_room_and_the_host(client: MeetingsClient, server: Server) -> None:
    expires = (datetime.now(UTC) + timedelta(days=3)).strftime("%Y-%m-%d %H:%M:%S")
    room = client.create_room({"display_name": "board rules", "type": "long_term", "expires_at": expires})
    other = client.create_room({"display_name": "another meeting"})
    session_id = add_session(server, client.application_id, room["id"], ended=False)
    pid, token = add_participant(server, client.application_id, room["id"], session_id)  # a guest
    me = {"X-Meetkit-Participant": pid, "Authorization": f"Bearer {token}", "Content-Type": "image/png"}
    files = f"{server.base_url}/_meetkit/board/{room['meeting_code']}/files"
    with httpx.Client(verify=str(server.cert_path), timeout=10) as http:
        # Someone of this meeting is nobody in another one.
        assert_error(http.put(f"{server.base_url}/_meetkit/board/{other['meeting_code']}/files/f1", content=_png(),
                              headers=me), 403)
        _set_read_only(server, session_id, True)
        assert_error(http.put(f"{files}/f1", content=_png(), headers=me), 403)
        _set_read_only(server, session_id, False)
        client.update_room(room["id"], {"available_features": {"is_whiteboard_available": False}})
        assert_error(http.put(f"{files}/f1", content=_png(), headers=me), 403)
        client.update_room(room["id"], {"available_features": {"is_whiteboard_available": True}})
        assert http.put(f"{files}/f1", content=_png(), headers=me).status_code == 201
    # Deleting the room takes the board's images from the object store too.
    keys = _stored_keys(server, session_id)
    assert keys and all(_exists(server, k) for k in keys)
    client.delete_room(room["id"])
    assert not any(_exists(server, k) for k in keys)


def _stored_keys(server: Server, session_id: str) -> list[str]:
    from sqlalchemy import select

    from meetkit.storage import tables as t

    async def go() -> list[str]:
        c = _container(server)
        try:
            async with c.sessions() as db:
                return list((await db.scalars(select(t.BoardFile.storage_key)
                                              .where(t.BoardFile.session_id == session_id))).all())
        finally:
            await c.engine.dispose()

    return run(go())


def _exists(server: Server, key: str) -> bool:
    c = _container(server)
    try:
        return bool(c.objects.exists(key))
    finally:
        run(c.engine.dispose())
