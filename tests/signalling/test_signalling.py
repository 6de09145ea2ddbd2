"""The meeting socket over real WebSockets against a real server (no media server: media is tested in
test_media_janus and the browser tests): presence, lobby, chat, host controls, resume, limits, and the
session callbacks that come out of them."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
import websockets
from sqlalchemy import select

from meetkit.client import MeetingsClient
from meetkit.media.sdp import keep_candidates, parse_networks, sends_video
from meetkit.signalling import protocol
from meetkit.storage import tables as t

from ..api.test_webhooks import verify_signature
from ..receiver import Receiver
from ..signalling_client import Peer
from ..support import Server, create_application, metric_sample, server_container, start_server, stop_server
from .conftest import ENV


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


def make_room(client: MeetingsClient, approval: str = "none", **extra: Any) -> tuple[str, str, str]:
    """(room id, meeting code, host token)."""
    room = client.create_room({"display_name": "Standup", "join_approval_level": approval, **extra})
    host_url = room["_links"]["host_url"]["href"]
    token = parse_qs(urlparse(host_url).query)["participant_token"][0]
    return room["id"], room["meeting_code"], token


async def host_and_guest(base: str, code: str, token: str) -> tuple[Peer, Peer]:
    host = await Peer.open(base, code, "Hana", host_token=token)
    await host.expect("admitted")
    guest = await Peer.open(base, code, "Gus")
    await guest.expect("admitted")
    await host.expect("participant.joined")
    return host, guest


# -- pure parts ------------------------------------------------------------------------------------


def test_client_messages_parse_and_bad_ones_get_codes() -> None:
    assert isinstance(protocol.parse_client('{"type":"ping"}'), protocol.Ping)
    with pytest.raises(protocol.ProtocolError) as e:
        protocol.parse_client('{"type":"dance"}')
    assert e.value.code == "unknown_type"
    with pytest.raises(protocol.ProtocolError) as e:
        protocol.parse_client('{"text":"x"}')
    assert e.value.code == "bad_message"
    with pytest.raises(protocol.ProtocolError) as e:
        protocol.parse_client('{"type":"chat.send","text":"a\\u0000b"}')
    assert e.value.code == "bad_message"
    with pytest.raises(protocol.ProtocolError):
        protocol.parse_client('{"type":"hello","v":2,"name":"x"}')
    with pytest.raises(protocol.ProtocolError):
        protocol.parse_client("not json")


def test_sdp_video_detection() -> None:
    audio_only = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=sendonly\r\n"
    with_video = audio_only + "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=sendonly\r\n"
    video_off = audio_only + "m=video 0 UDP/TLS/RTP/SAVPF 96\r\na=inactive\r\n"
    assert not sends_video(audio_only)
    assert sends_video(with_video)
    assert not sends_video(video_off)
    assert not sends_video(audio_only + "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=inactive\r\n")
    # An attribute that merely contains the word does not turn a sending section into a silent one.
    assert sends_video(audio_only + "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=ssrc:1 cname:a=recvonly\r\na=sendrecv\r\n")


def test_candidates_outside_the_allowed_networks_are_dropped() -> None:
    sdp = ("v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
           "a=candidate:1 1 udp 2122260223 127.0.0.5 50000 typ host\r\n"
           "a=candidate:2 1 udp 2122194687 10.1.2.3 50001 typ host\r\n"
           "a=candidate:3 1 udp 2122194687 abc.local 50002 typ host\r\n"
           "a=sendonly\r\n")
    kept = keep_candidates(sdp, parse_networks("127.0.0.0/8"))
    assert "127.0.0.5" in kept and "10.1.2.3" not in kept and ".local" not in kept and kept.endswith("a=sendonly\r\n")
    assert keep_candidates(sdp, parse_networks(None)) == sdp


# -- against the server ----------------------------------------------------------------------------


async def test_unknown_or_expired_code_is_closed_4404(meet_server: Server) -> None:
    # The server may close before the client's hello is out: sending it may fail, the close code may not.
    url = meet_server.base_url.replace("http", "ws", 1) + "/_meetkit/ws/000000001"
    async with asyncio.timeout(10):
        ws = await websockets.connect(url)
        with contextlib.suppress(websockets.ConnectionClosed):
            await ws.send(json.dumps({"type": "hello", "v": 1, "name": "Ann", "mic": True, "camera": True}))
        await ws.wait_closed()
    assert ws.close_code == protocol.CLOSE_NOT_FOUND


async def test_hello_must_come_first(meet_server: Server, app_client: MeetingsClient) -> None:
    _, code, _ = make_room(app_client)
    peer = await Peer.open(meet_server.base_url, code, hello={"type": "ping"})
    err = await peer.expect("error")
    assert err["code"] == "hello_first"
    assert await peer.closed() == protocol.CLOSE_PROTOCOL


async def test_a_participant_renames_itself(meet_server: Server, app_client: MeetingsClient) -> None:
    """``name.set`` (the embedding page's setDisplayName): cleaned as in hello, seen by others at once,
    stored on the participant's row; nothing visible left is a bad message, and nothing changes."""
    _, code, token = make_room(app_client)
    host, guest = await host_and_guest(meet_server.base_url, code, token)
    await guest.send({"type": "name.set", "name": "  Gus\u202e the Guest "})
    upd = await host.expect("participant.updated")
    assert upd["participant"]["participant_id"] == guest.id and upd["participant"]["name"] == "Gus the Guest"
    await guest.send({"type": "name.set", "name": "\u200b"})
    assert (await guest.expect("error"))["code"] == "bad_message"
    async with server_container(meet_server) as c, c.sessions() as db:
        assert (await db.get(t.Participant, guest.id)).name == "Gus the Guest"
    await guest.send({"type": "chat.send", "text": "hi"})
    assert (await host.expect("chat.message"))["name"] == "Gus the Guest"


async def test_open_room_presence_chat_and_replay(meet_server: Server, app_client: MeetingsClient) -> None:
    _, code, token = make_room(app_client)
    host, guest = await host_and_guest(meet_server.base_url, code, token)
    assert host.welcome["role"] == "host" and guest.welcome["role"] == "guest"
    text = '<img src=x onerror="alert(1)"> & ünïcödé'
    await guest.send({"type": "chat.send", "text": text})
    got = await host.expect("chat.message")
    assert got["text"] == text and got["name"] == "Gus" and got["participant_id"] == guest.id
    await guest.expect("chat.message")
    await host.send({"type": "hand", "raised": True})
    upd = await guest.expect("participant.updated")
    assert upd["participant"]["hand"] is True
    await host.send({"type": "talking", "talking": True})
    assert (await guest.expect("talking"))["participant_id"] == host.id
    late = await Peer.open(meet_server.base_url, code, "Lou")
    admitted = await late.expect("admitted")
    assert [m["text"] for m in admitted["chat"]] == [text]
    assert {x["name"] for x in admitted["participants"]} == {"Hana", "Gus", "Lou"}
    await host.send({"type": "host.chat_export"})
    export = await host.expect("chat.export")
    assert [m["text"] for m in export["messages"]] == [text]
    await guest.send({"type": "host.chat_export"})
    assert (await guest.expect("error"))["code"] == "forbidden"
    await guest.send({"type": "dance"})
    assert (await guest.expect("error"))["code"] == "unknown_type"
    for peer in (late, guest, host):
        await peer.send({"type": "leave"})
        await peer.closed()


async def test_explicit_approval_admit_and_deny(meet_server: Server, app_client: MeetingsClient) -> None:
    _, code, token = make_room(app_client, "explicit_approval")
    host = await Peer.open(meet_server.base_url, code, "Hana", host_token=token)
    await host.expect("admitted")
    guest = await Peer.open(meet_server.base_url, code, "Gus")
    assert (await guest.expect("lobby"))["reason"] == "approval"
    assert await host.lobby_until(bool) == ["Gus"]
    # A waiting guest can do nothing in the meeting.
    await guest.send({"type": "chat.send", "text": "let me in"})
    assert (await guest.expect("error"))["code"] == "not_joined"
    await host.send({"type": "host.admit", "participant_id": guest.id})
    await guest.expect("admitted")
    assert (await host.expect("participant.joined"))["participant"]["name"] == "Gus"
    other = await Peer.open(meet_server.base_url, code, "Eve", host_token="forged-token")
    await other.expect("lobby")
    assert other.welcome["role"] == "guest"
    assert await host.lobby_until(lambda names: names == ["Eve"]) == ["Eve"]
    await host.send({"type": "host.deny", "participant_id": next(iter(host.waiting))})
    assert (await other.expect("denied"))["reason"] == "host_denied"
    assert await other.closed() == protocol.CLOSE_DENIED
    for peer in (guest, host):
        await peer.send({"type": "leave"})
        await peer.closed()


async def test_after_owner_only_waits_for_the_host(meet_server: Server, app_client: MeetingsClient) -> None:
    _, code, token = make_room(app_client, "after_owner_only")
    guest = await Peer.open(meet_server.base_url, code, "Gus")
    assert (await guest.expect("lobby"))["reason"] == "host_absent"
    host = await Peer.open(meet_server.base_url, code, "Hana", host_token=token)
    await host.expect("admitted")
    await guest.expect("admitted")
    for peer in (guest, host):
        await peer.send({"type": "leave"})
        await peer.closed()


async def test_host_mute_remove_lock_and_limits(meet_server: Server, app_client: MeetingsClient) -> None:
    _, code, token = make_room(app_client)
    host, guest = await host_and_guest(meet_server.base_url, code, token)
    await host.send({"type": "host.mute", "participant_id": guest.id})
    assert (await guest.expect("muted"))["by"] == host.id
    await host.send({"type": "host.remove", "participant_id": guest.id})
    await guest.expect("removed")
    assert await guest.closed() == protocol.CLOSE_REMOVED
    left = await host.expect("participant.left")
    assert left == {"type": "participant.left", "participant_id": guest.id, "reason": "removed"}
    # The removed participant cannot resume with its old token: it starts over as someone new.
    back = await Peer.open(meet_server.base_url, code, "Gus", resume={
        "participant_id": guest.id, "resume_token": guest.welcome["resume_token"]})
    await back.expect("admitted")
    assert back.welcome["resumed"] is False and back.id != guest.id
    # Limit: 3 participants in this server's configuration.
    third = await Peer.open(meet_server.base_url, code, "Tia")
    await third.expect("admitted")
    fourth = await Peer.open(meet_server.base_url, code, "Flo")
    assert (await fourth.expect("denied"))["reason"] == "full"
    await third.send({"type": "leave"})
    await third.closed()
    await host.send({"type": "host.lock", "locked": True})
    await back.expect("locked", locked=True)
    locked_out = await Peer.open(meet_server.base_url, code, "Lee")
    assert (await locked_out.expect("denied"))["reason"] == "locked"
    for peer in (back, host):
        await peer.send({"type": "leave"})
        await peer.closed()


async def test_dropped_socket_resumes_without_a_second_join(meet_server: Server, app_client: MeetingsClient) -> None:
    _, code, token = make_room(app_client)
    host, guest = await host_and_guest(meet_server.base_url, code, token)
    await guest.drop()
    resumed = await Peer.open(meet_server.base_url, code, "Gus", resume={
        "participant_id": guest.id, "resume_token": guest.welcome["resume_token"]})
    await resumed.expect("admitted")
    assert resumed.welcome["resumed"] is True and resumed.id == guest.id
    await resumed.send({"type": "chat.send", "text": "back"})
    await host.expect("chat.message", text="back")
    assert not [f for f in host.frames if f["type"] in ("participant.joined", "participant.left")
                and f.get("participant", {}).get("participant_id", f.get("participant_id")) == guest.id][1:]
    # Dropped for longer than the grace period: the participant has left.
    await resumed.drop()
    left = await host.expect("participant.left", timeout=6)
    assert left["reason"] == "dropped" and left["participant_id"] == guest.id
    await host.send({"type": "leave"})
    await host.closed()


async def test_end_for_all_and_session_callbacks_in_order(meet_server: Server, app_client: MeetingsClient,
                                                          receiver: Receiver) -> None:
    room_id, code, token = make_room(app_client, callback_urls={"sessions_callback_url": receiver.url},
                                     metadata="team-42")
    host, guest = await host_and_guest(meet_server.base_url, code, token)
    waiting_room = make_room(app_client, "explicit_approval")
    await host.send({"type": "host.end"})
    await host.expect("meeting.ended")
    await guest.expect("meeting.ended")
    assert await host.closed() == protocol.CLOSE_ENDED
    assert await guest.closed() == protocol.CLOSE_ENDED
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while len(receiver.hits) < 6 and loop.time() < deadline:
        await asyncio.sleep(0.05)
    events = [json.loads(h.body) for h in receiver.hits]
    assert [e["event"] for e in events] == [
        "session:started", "session:participant:joined", "session:participant:joined",
        "session:participant:left", "session:participant:left", "session:ended"]
    app_secret = await _webhook_secret(meet_server, app_client.application_id)
    for hit in receiver.hits:
        assert verify_signature(app_secret, hit.headers, hit.body)
        assert hit.headers["x-meetkit-room-metadata"] == "team-42"
    joined = {e["name"]: e for e in events if e["event"] == "session:participant:joined"}
    assert joined["Hana"]["is_host"] is True and joined["Hana"]["type"] == "host"
    assert joined["Gus"]["is_host"] is False and joined["Gus"]["type"] == "guest"
    assert {e["session_id"] for e in events} == {events[0]["session_id"]}
    assert all(e["room_id"] == room_id for e in events)
    async with server_container(meet_server) as c, c.sessions() as db:
        session = await db.get(t.Session, events[0]["session_id"])
        assert session is not None and session.ended_at is not None
        people = (await db.scalars(select(t.Participant).where(t.Participant.session_id == session.id))).all()
        assert {x.name: x.left_reason for x in people} == {"Hana": "ended", "Gus": "ended"}
        assert all(x.left_at is not None and x.left_at >= x.joined_at for x in people)
    # The recordings API knows the session id.
    assert app_client.request("GET", f"/sessions/{session.id}/recordings").status_code == 200
    assert waiting_room[0] != room_id


async def _webhook_secret(server: Server, application_id: str) -> str:
    async with server_container(server) as c, c.sessions() as db:
        app = await db.get(t.Application, application_id)
        assert app is not None
        return app.webhook_secret


def test_meeting_page_embeds_its_configuration(meet_server: Server, app_client: MeetingsClient,
                                               tmp_path: Path) -> None:
    room = app_client.create_room({"display_name": "</script><b>x</b>", "join_approval_level": "none",
                                   "ui_settings": {"language": "es"}})
    import httpx

    page = httpx.get(room["_links"]["host_url"]["href"], timeout=10)
    assert page.status_code == 200
    html = page.text
    assert "</script><b>" not in html
    start = html.index('<script id="meetkit-config" type="application/json">') + len(
        '<script id="meetkit-config" type="application/json">')
    config = json.loads(html[start:html.index("</script>", start)])
    assert config["role"] == "host" and config["room"]["display_name"] == "</script><b>x</b>"
    assert config["ws_url"] == f"/_meetkit/ws/{room['meeting_code']}"
    assert '<html lang="es"' in html
    guest = httpx.get(room["_links"]["guest_url"]["href"], timeout=10).text
    start = guest.index('type="application/json">') + len('type="application/json">')
    guest_config = json.loads(guest[start:guest.index("</script>", start)])
    assert guest_config["role"] == "guest" and guest_config["host_token"] is None
    embed = httpx.get(meet_server.base_url + "/embed.js", timeout=10)
    assert embed.status_code == 200 and "Meetkit" in embed.text


async def test_admit_all_and_mute_all(meet_server: Server, app_client: MeetingsClient) -> None:
    _, code, token = make_room(app_client, "explicit_approval")
    host = await Peer.open(meet_server.base_url, code, "Hana", host_token=token)
    await host.expect("admitted")
    waiting = [await Peer.open(meet_server.base_url, code, name) for name in ("Ann", "Bob")]
    for peer in waiting:
        await peer.expect("lobby")
    assert sorted(await host.lobby_until(lambda names: len(names) == 2)) == ["Ann", "Bob"]
    await host.send({"type": "host.admit_all"})
    for peer in waiting:
        await peer.expect("admitted")
    assert await host.lobby_until(lambda names: not names) == []
    await host.send({"type": "host.mute_all"})
    for peer in waiting:
        assert (await peer.expect("muted"))["by"] == host.id
    assert not [f for f in host.frames if f["type"] == "muted"]
    for peer in (*waiting, host):
        await peer.send({"type": "leave"})
        await peer.closed()


async def _room_timer(server: Server, room_id: str) -> tuple[Any, Any]:
    async with server_container(server) as c, c.sessions() as db:
        room = await db.scalar(select(t.Room).where(t.Room.id == room_id))
        session = await db.scalar(select(t.Session).where(t.Session.room_id == room_id)
                                  .order_by(t.Session.started_at.desc()))
        assert room is not None
        return room.expiry_due_at, session.ended_at if session else None


async def test_sessions_move_the_room_expiry_timer(meet_server: Server, app_client: MeetingsClient) -> None:
    """Instant room: no expiry while a session runs, idle window after it ends. Long-term with
    expire_after_use: idle window after the session, never later than expires_at."""
    import datetime as dt

    idle = dt.timedelta(seconds=600)  # MEETKIT_ROOM_IDLE_WINDOW default
    instant_id, code, token = make_room(app_client)
    host = await Peer.open(meet_server.base_url, code, "Hana", host_token=token)
    await host.expect("admitted")
    due, _ = await _room_timer(meet_server, instant_id)
    assert due is None
    await host.send({"type": "leave"})
    await host.closed()
    await asyncio.sleep(0.2)
    due, ended = await _room_timer(meet_server, instant_id)
    assert ended is not None and due == ended + idle

    expires = (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    long_id, code, token = make_room(app_client, type="long_term", expires_at=expires, expire_after_use=True)
    host = await Peer.open(meet_server.base_url, code, "Hana", host_token=token)
    await host.expect("admitted")
    due, _ = await _room_timer(meet_server, long_id)
    assert due is not None and due > dt.datetime.now(dt.UTC) + dt.timedelta(days=29)
    await host.send({"type": "host.end"})
    await host.closed()
    await asyncio.sleep(0.2)
    due, ended = await _room_timer(meet_server, long_id)
    assert ended is not None and due == ended + idle
    # Moving expires_at later keeps the after-use expiry; earlier than it wins.
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(days=60)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert app_client.request("PATCH", f"/rooms/{long_id}", json={"update_details": {"expires_at": later}}
                              ).status_code == 200
    assert (await _room_timer(meet_server, long_id))[0] == ended + idle


def test_a_room_name_that_looks_like_a_placeholder_stays_text(meet_server: Server, app_client: MeetingsClient) -> None:
    import httpx

    room = app_client.create_room({"display_name": "{{config_json}} {{static}}", "join_approval_level": "none"})
    host_url = room["_links"]["host_url"]["href"]
    token = parse_qs(urlparse(host_url).query)["participant_token"][0]
    html = httpx.get(host_url, timeout=10).text
    title = html[html.index("<title>"):html.index("</title>")]
    assert "{{config_json}} {{static}}" in title and token not in title


async def test_a_room_that_expires_or_is_deleted_mid_meeting_ends_it(meet_server: Server,
                                                                    app_client: MeetingsClient) -> None:
    import datetime as dt

    from sqlalchemy import update

    room_id, code, token = make_room(app_client)
    host, guest = await host_and_guest(meet_server.base_url, code, token)
    async with server_container(meet_server) as c, c.sessions.begin() as db:
        await db.execute(update(t.Room).where(t.Room.id == room_id).values(
            expiry_due_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
    await host.expect("meeting.ended", timeout=10)
    await guest.expect("meeting.ended", timeout=10)
    assert await guest.closed() == protocol.CLOSE_ENDED
    # Browsers are told first; the session row is closed right after (bounded wait).
    ended_at = None
    for _ in range(50):
        async with server_container(meet_server) as c, c.sessions() as db:
            session = await db.scalar(select(t.Session).where(t.Session.room_id == room_id))
        assert session is not None
        if (ended_at := session.ended_at) is not None:
            break
        await asyncio.sleep(0.1)
    assert ended_at is not None

    room_id, code, token = make_room(app_client)
    host, guest = await host_and_guest(meet_server.base_url, code, token)
    assert app_client.request("DELETE", f"/rooms/{room_id}").status_code == 204
    await host.expect("meeting.ended", timeout=10)
    await guest.expect("meeting.ended", timeout=10)


async def test_metrics_count_live_meetings_participants_and_sockets(tmp_path: Path) -> None:
    # A server of its own: the module's server has other tests' sockets closing in the background.
    srv = await asyncio.to_thread(functools.partial(start_server, "sqlite", tmp_path, ENV, tls=False))
    try:
        app_id, key = await asyncio.to_thread(create_application, srv, tmp_path)
        with MeetingsClient(srv.base_url, app_id, key) as client:
            _, code, token = make_room(client)

        def scrape() -> tuple[float, float, float]:
            text = httpx.get(srv.base_url + "/metrics", timeout=10).text
            return (metric_sample(text, "meetkit_live_meetings") or 0, metric_sample(text, "meetkit_sockets") or 0,
                    metric_sample(text, "meetkit_participants", state="joined") or 0)

        assert await asyncio.to_thread(scrape) == (0, 0, 0)
        host, guest = await host_and_guest(srv.base_url, code, token)
        assert await asyncio.to_thread(scrape) == (1, 2, 2)
        for peer in (guest, host):
            await peer.send({"type": "leave"})
            await peer.closed()
        deadline = asyncio.get_running_loop().time() + 10
        while (after := await asyncio.to_thread(scrape)) != (0, 0, 0):
            assert asyncio.get_running_loop().time() < deadline, after
            await asyncio.sleep(0.05)
    finally:
        await asyncio.to_thread(stop_server, srv)
