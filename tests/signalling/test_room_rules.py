"""What the server enforces for a room, over real sockets to a real server (issue 10, findings 6, 7, 9):
the chat flag (live, through a PATCH), the sender's role on every chat message, names cleaned at
hello, the chat export's text form, and a removed participant's browser kept in the lobby."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from meetkit.client import MeetingsClient
from meetkit.signalling import protocol

from ..signalling_client import Peer
from ..support import Server
from .test_signalling import host_and_guest, make_room


def hello(name: str, **extra: Any) -> dict[str, Any]:
    return {"type": "hello", "v": 1, "name": name, "mic": False, "camera": False, **extra}


def long_term(client: MeetingsClient, **extra: Any) -> tuple[str, str, str]:
    expires = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    return make_room(client, type="long_term", expires_at=expires, **extra)


async def settled(peer: Peer) -> None:
    """Everything the server sent this peer before now has arrived (a ping's pong comes after it)."""
    await peer.send({"type": "ping"})
    await peer.expect("pong")


async def leave_all(*peers: Peer) -> None:
    for peer in peers:
        await peer.send({"type": "leave"})
        await peer.closed()


async def test_chat_off_is_refused_by_the_server_and_a_patch_reaches_the_meeting(
        meet_server: Server, app_client: MeetingsClient) -> None:
    room_id, code, token = long_term(app_client, available_features={"is_chat_available": False})
    host, guest = await host_and_guest(meet_server.base_url, code, token)
    for peer in (guest, host):
        await peer.send({"type": "chat.send", "text": "hello?"})
        assert (await peer.expect("error"))["code"] == "chat_unavailable"
    await settled(host)
    await settled(guest)
    assert not [f for f in host.frames + guest.frames if f["type"] == "chat.message"]  # nothing fanned out
    app_client.update_room(room_id, {"available_features": {"is_chat_available": True}})
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while True:  # the update travels on the bus: bounded wait for the meeting to follow it
        frame = await answer_to(guest, {"type": "chat.send", "text": "now it works"})
        if frame["type"] == "chat.message":
            break
        assert loop.time() < deadline, "the PATCH never reached the meeting"
        await asyncio.sleep(0.05)
    assert frame["text"] == "now it works"
    late = await Peer.open(meet_server.base_url, code, "Lou")
    assert [m["text"] for m in (await late.expect("admitted"))["chat"]] == ["now it works"]  # refused ones unstored
    app_client.update_room(room_id, {"available_features": {"is_chat_available": False}})
    deadline = loop.time() + 5
    while True:
        frame = await answer_to(late, {"type": "chat.send", "text": "and off again"})
        if frame["type"] == "error":
            assert frame["code"] == "chat_unavailable"
            break
        assert loop.time() < deadline, "the second PATCH never reached the meeting"
        await asyncio.sleep(0.05)
    await leave_all(late, guest, host)


async def answer_to(peer: Peer, message: dict[str, Any]) -> dict[str, Any]:
    """The chat.message or error that answers ``message`` (frames from before it do not count)."""
    seen = len(peer.frames)
    await peer.send(message)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while loop.time() < deadline:
        for frame in peer.frames[seen:]:
            if frame["type"] in ("chat.message", "error"):
                return frame
        await asyncio.sleep(0.01)
    raise AssertionError("neither chat.message nor error")


async def test_chat_messages_carry_the_senders_role_and_the_export_cannot_be_forged(
        meet_server: Server, app_client: MeetingsClient) -> None:
    _, code, token = make_room(app_client)
    host = await Peer.open(meet_server.base_url, code, "Hana", host_token=token)
    await host.expect("admitted")
    fake = await Peer.open(meet_server.base_url, code, hello=hello("\u2067Host\u2069  \t "))  # a guest
    await fake.expect("admitted")
    joined = await host.expect("participant.joined")
    assert joined["participant"]["name"] == "Host" and joined["participant"]["role"] == "guest"
    forged = "hi\n[2026-01-01 00:00:00 UTC] [host] Hana: the password is 1234\u202e"
    await fake.send({"type": "chat.send", "text": forged})
    got = await host.expect("chat.message")
    assert (got["name"], got["role"], got["text"]) == ("Host", "guest", forged)
    await host.send({"type": "chat.send", "text": "real host"})
    assert (await fake.expect("chat.message", text="real host"))["role"] == "host"
    late = await Peer.open(meet_server.base_url, code, "Lou")
    history = (await late.expect("admitted"))["chat"]
    assert [(m["name"], m["role"]) for m in history] == [("Host", "guest"), ("Hana", "host")]
    await host.send({"type": "host.chat_export"})
    export = await host.expect("chat.export")
    assert [m["role"] for m in export["messages"]] == ["guest", "host"]
    lines = export["text"].splitlines()
    assert len(lines) == 2  # the newline inside the guest's text made no line of its own
    assert lines[0].endswith("] [guest] Host: hi\\n[2026-01-01 00:00:00 UTC] [host] Hana: the password is 1234\\u202e")
    assert lines[1].endswith("] [host] Hana: real host") and lines[1].startswith("[20")
    await leave_all(late, fake, host)


async def test_names_are_cleaned_at_hello_and_a_blank_one_is_refused(meet_server: Server,
                                                                     app_client: MeetingsClient) -> None:
    _, code, token = make_room(app_client)
    host = await Peer.open(meet_server.base_url, code, "Hana", host_token=token)
    await host.expect("admitted")
    gus = await Peer.open(meet_server.base_url, code, hello=hello("  Gus\u202e \n Lee\u200b\x1b "))
    await gus.expect("admitted")
    assert (await host.expect("participant.joined"))["participant"]["name"] == "Gus Lee"
    blank = await Peer.open(meet_server.base_url, code, hello=hello("\u202e\u200b \t"))
    assert (await blank.expect("error"))["code"] == "bad_message"
    assert await blank.closed() == protocol.CLOSE_PROTOCOL
    await leave_all(gus, host)


async def test_a_removed_guest_coming_back_from_the_same_browser_waits_for_the_host(
        meet_server: Server, app_client: MeetingsClient) -> None:
    _, code, token = make_room(app_client)  # no approval: anybody else walks straight in
    host, guest = await host_and_guest(meet_server.base_url, code, token)
    browser_id = guest.welcome["browser_id"]
    await host.send({"type": "host.remove", "participant_id": guest.id})
    assert await guest.closed() == protocol.CLOSE_REMOVED
    back = await Peer.open(meet_server.base_url, code, hello=hello("Gus again", browser_id=browser_id))
    assert (await back.expect("lobby"))["reason"] == "removed_before"
    assert back.welcome["state"] == "lobby" and back.welcome["browser_id"] == browser_id
    await host.lobby_until(lambda names: names == ["Gus again"])
    assert [(w["participant_id"], w["reason"]) for w in host.waiting.values()] == [(back.id, "removed_before")]
    # A browser id the server did not sign counts for nothing: a new browser, in at once.
    forged = browser_id[:-4] + ("AAAA" if not browser_id.endswith("AAAA") else "BBBB")
    other = await Peer.open(meet_server.base_url, code, hello=hello("Ola", browser_id=forged))
    await other.expect("admitted")
    assert other.welcome["browser_id"] != forged
    await host.send({"type": "host.admit", "participant_id": back.id})
    await back.expect("admitted")  # the host decided
    await leave_all(back, other, host)
    # The session is over: the next one starts with a clean slate.
    host = await Peer.open(meet_server.base_url, code, "Hana", host_token=token)
    await host.expect("admitted")
    again = await Peer.open(meet_server.base_url, code, hello=hello("Gus", browser_id=browser_id))
    await again.expect("admitted")
    await leave_all(again, host)
