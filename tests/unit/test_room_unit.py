"""Rooms, the lobby, the handler and the media relay in-process, against a real SQLite database and a
fake media server (the process boundary), with a FakeClock: nothing sleeps real seconds.

A ``Browser`` here is the session loop of signalling/session.py on a fake socket."""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from meetkit.actions.applications import do_create_application
from meetkit.app import build_container
from meetkit.bus import RoomEnded, RoomUpdated
from meetkit.clock import FakeClock
from meetkit.config import Settings
from meetkit.container import Container
from meetkit.domain import rooms as room_rules
from meetkit.media.videoroom import MediaEvent, MediaEventCallback
from meetkit.signalling import protocol, session
from meetkit.signalling.rooms import Rooms
from meetkit.storage import migrate
from meetkit.storage import tables as t

GRACE = 20.0
VIDEO_SDP = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=sendonly\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=sendonly\r\n"
AUDIO_SDP = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=sendonly\r\n"


# --- the process boundary: a fake media server ----------------------------------------------------


class FakeSubscriber:
    """No feed's streams are known here (no Janus ``publishers`` events): nothing is ever subscribed."""

    def __init__(self) -> None:
        self.handle = None
        self.streams: list[Any] = []
        self.active: list[Any] = []
        self.on_offer = None


class FakeMediaParticipant:
    def __init__(self, token: str, on_event: MediaEventCallback | None) -> None:
        self.token = token
        self.on_event = on_event
        self.presence_id = secrets.randbelow(2**40) + 1
        self.published: dict[str, int] = {}
        self.unpublished: list[str] = []
        self.closed = False
        self.subscriber = FakeSubscriber()

    async def publish(self, kind: str, feed: int, display: str, sdp_offer: str) -> str:
        self.published[kind] = feed
        return "v=0\r\n(answer)"

    async def wait_live(self, kind: str, time_limit: float = 10.0) -> None:
        return None  # the publisher's PeerConnection comes up at once

    async def unpublish(self, kind: str) -> None:
        self.published.pop(kind, None)
        self.unpublished.append(kind)

    async def record(self, kind: str, filename: str | None) -> None:
        return None

    async def close(self) -> None:
        self.closed = True

    def janus_says(self, type_: str, role: str, feed: int | None, data: dict[str, Any] | None = None) -> None:
        assert self.on_event is not None
        self.on_event(MediaEvent(type_, role, feed, data or {}))


class FakeMedia:
    def __init__(self) -> None:
        self.allowed: set[str] = set()
        self.opened: list[FakeMediaParticipant] = []
        self.kicked: list[int] = []

    async def create_room(self, room: int, *, publishers: int, record: bool = False, rec_dir: str | None = None,
                          description: str = "", audio_levels: Any = None) -> None:
        return None

    async def destroy_room(self, room: int) -> None:
        return None

    async def allow(self, room: int, token: str) -> None:
        self.allowed.add(token)

    async def disallow(self, room: int, token: str) -> None:
        self.allowed.discard(token)

    async def kick(self, room: int, feed: int) -> None:
        self.kicked.append(feed)

    async def open_participant(self, room: int, token: str, *,
                               on_event: MediaEventCallback | None = None) -> FakeMediaParticipant:
        assert token in self.allowed
        participant = FakeMediaParticipant(token, on_event)
        self.opened.append(participant)
        return participant


# --- a browser: the session loop on a fake socket -------------------------------------------------


class FakeSocket:
    def __init__(self) -> None:
        self.inbox: asyncio.Queue[str | None] = asyncio.Queue()
        self.frames: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.close_code: int | None = None

    async def accept(self) -> None:
        return None

    async def send_text(self, data: str) -> None:
        frame = json.loads(data)
        protocol.SERVER_MESSAGE.validate_python(frame)  # every frame matches the documented schema
        await self.frames.put(frame)

    async def receive(self) -> dict[str, Any]:
        item = await self.inbox.get()
        if item is None:
            return {"type": "websocket.disconnect", "code": self.close_code or 1000}
        return {"type": "websocket.receive", "text": item}

    async def close(self, code: int = 1000) -> None:
        if self.close_code is None:
            self.close_code = code
        await self.inbox.put(None)


OPEN: list[Browser] = []  # this test's browsers, ended by the ``rooms`` fixture


class Browser:
    def __init__(self, rooms: Rooms, code: str) -> None:
        self.socket = FakeSocket()
        self.task = asyncio.create_task(session.serve(rooms, self.socket, code))
        OPEN.append(self)
        self.seen: list[dict[str, Any]] = []
        self.welcome: dict[str, Any] = {}
        self.waiting: dict[str, dict[str, Any]] = {}  # the lobby as this host was told

    @classmethod
    async def open(cls, rooms: Rooms, code: str, name: str, **hello: Any) -> Browser:
        browser = cls(rooms, code)
        browser.send({"type": "hello", "v": 1, "name": name, "mic": True, "camera": True, **hello})
        browser.welcome = await browser.expect("welcome")
        return browser

    @property
    def id(self) -> str:
        return str(self.welcome["participant_id"])

    def send(self, message: dict[str, Any]) -> None:
        self.socket.inbox.put_nowait(json.dumps(message))

    async def expect(self, type_: str, where: Callable[[dict[str, Any]], bool] = lambda _: True,
                     **match: Any) -> dict[str, Any]:
        """The next frame of this type (others are kept in ``seen``); bounded."""
        async with asyncio.timeout(5):
            while True:
                frame = await self.socket.frames.get()
                self.seen.append(frame)
                if frame["type"] == type_ and where(frame) and all(frame.get(k) == v for k, v in match.items()):
                    return frame

    async def lobby_until(self, clock: FakeClock, done: Callable[[list[str]], bool]) -> list[str]:
        """The names in the lobby as this host's ``lobby.update`` frames tell it (a full list, then
        deltas), read until ``done`` holds; the clock moves past each coalescing interval. Bounded."""
        async with asyncio.timeout(5):
            while not done(names := [w["name"] for w in self.waiting.values()]):
                try:
                    frame = await asyncio.wait_for(self.socket.frames.get(), 0.05)
                except TimeoutError:
                    clock.advance(1)
                    continue
                self.seen.append(frame)
                if frame["type"] == "lobby.update":
                    if "waiting" in frame:
                        self.waiting = {w["participant_id"]: w for w in frame["waiting"]}
                    for w in frame["added"]:
                        self.waiting[w["participant_id"]] = w
                    for key in frame["removed"]:
                        self.waiting.pop(key, None)
                    assert frame["count"] == len(self.waiting)
        return names

    async def drop(self) -> None:
        self.socket.inbox.put_nowait(None)
        async with asyncio.timeout(5):
            await self.task

    async def closed(self) -> int | None:
        async with asyncio.timeout(5):
            await self.task
        return self.socket.close_code


async def eventually(check: Callable[[], bool]) -> None:
    async with asyncio.timeout(5):
        while not check():
            await asyncio.sleep(0.005)


# --- fixtures: a real SQLite container, per test a room and the node's Rooms ------------------------


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def container(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Container]:
    folder = tmp_path_factory.mktemp("room-unit")
    settings = Settings(data_dir=folder, max_participants=3, max_video_senders=1, resume_grace=GRACE,
                        media_mode="off", _env_file=None)  # type: ignore[call-arg]
    c = build_container(settings, FakeClock())
    await migrate.upgrade(c.engine)
    yield c
    await c.engine.dispose()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def application_id(container: Container, tmp_path_factory: pytest.TempPathFactory) -> str:
    made = await do_create_application(container, "unit", key_dir=Path(tmp_path_factory.mktemp("keys")))
    return made.application_id


@pytest.fixture
def clock(container: Container) -> FakeClock:
    assert isinstance(container.clock, FakeClock)
    return container.clock


@pytest.fixture
def media() -> FakeMedia:
    return FakeMedia()


@pytest_asyncio.fixture(loop_scope="session")
async def rooms(container: Container, media: FakeMedia) -> AsyncIterator[Rooms]:
    node_rooms = Rooms(container, media)
    yield node_rooms
    await node_rooms.close()
    # The closed sockets end their sessions, which may start grace periods: those end too.
    async with asyncio.timeout(5):
        await asyncio.gather(*(b.task for b in OPEN))
    OPEN.clear()
    node_rooms.node.cancel_tasks()
    await asyncio.gather(*node_rooms.node.tasks, return_exceptions=True)


async def make_room(c: Container, application_id: str, approval: str = "none") -> t.Room:
    now = c.clock.now()
    row = t.Room(id=str(uuid.uuid4()), application_id=application_id, display_name="Standup", type="instant",
                 expires_at=now + timedelta(hours=1), join_approval_level=approval,
                 recording_options=dict(room_rules.DEFAULT_RECORDING_OPTIONS),
                 initial_join_options=dict(room_rules.DEFAULT_INITIAL_JOIN_OPTIONS), callback_urls={},
                 available_features={}, ui_settings={}, meeting_code=f"{secrets.randbelow(10**9):09d}",
                 host_token=secrets.token_urlsafe(32), created_at=now)
    async with c.sessions.begin() as db:
        db.add(row)
    return row


async def host_and_guest(rooms: Rooms, room: t.Room) -> tuple[Browser, Browser]:
    host = await Browser.open(rooms, room.meeting_code, "Hana", host_token=room.host_token)
    await host.expect("admitted")
    guest = await Browser.open(rooms, room.meeting_code, "Gus")
    await guest.expect("admitted")
    await host.expect("participant.joined")
    return host, guest


# --- the lobby ------------------------------------------------------------------------------------


async def test_open_room_guests_join_at_once(container: Container, application_id: str, rooms: Rooms) -> None:
    room = await make_room(container, application_id, "none")
    guest = await Browser.open(rooms, room.meeting_code, "Gus")
    assert guest.welcome["state"] == "joined"
    admitted = await guest.expect("admitted")
    assert [x["name"] for x in admitted["participants"]] == ["Gus"]


async def test_explicit_approval_admit_and_deny(container: Container, application_id: str, rooms: Rooms,
                                                clock: FakeClock) -> None:
    room = await make_room(container, application_id, "explicit_approval")
    host = await Browser.open(rooms, room.meeting_code, "Hana", host_token=room.host_token)
    await host.expect("admitted")
    guest = await Browser.open(rooms, room.meeting_code, "Gus")
    assert guest.welcome["state"] == "lobby"
    assert (await guest.expect("lobby"))["reason"] == "approval"
    assert await host.lobby_until(clock, bool) == ["Gus"]
    guest.send({"type": "chat.send", "text": "let me in"})
    assert (await guest.expect("error"))["code"] == "not_joined"
    host.send({"type": "host.admit", "participant_id": guest.id})
    await guest.expect("admitted")
    await host.expect("participant.joined")

    other = await Browser.open(rooms, room.meeting_code, "Olga")
    assert await host.lobby_until(clock, lambda names: names == ["Olga"]) == ["Olga"]
    host.send({"type": "host.deny", "participant_id": other.id})
    assert (await other.expect("denied"))["reason"] == "host_denied"
    assert await other.closed() == protocol.CLOSE_DENIED
    host.send({"type": "host.admit", "participant_id": other.id})
    assert (await host.expect("error"))["code"] == "not_waiting"


async def test_after_owner_only_waits_for_the_host(container: Container, application_id: str,
                                                   rooms: Rooms) -> None:
    room = await make_room(container, application_id, "after_owner_only")
    guest = await Browser.open(rooms, room.meeting_code, "Gus")
    assert (await guest.expect("lobby"))["reason"] == "host_absent"
    host = await Browser.open(rooms, room.meeting_code, "Hana", host_token=room.host_token)
    await host.expect("admitted")
    await guest.expect("admitted")
    assert (await host.expect("participant.joined"))["participant"]["name"] == "Gus"


async def test_admit_all_lets_everyone_waiting_in(container: Container, application_id: str, rooms: Rooms,
                                                  clock: FakeClock) -> None:
    room = await make_room(container, application_id, "explicit_approval")
    host = await Browser.open(rooms, room.meeting_code, "Hana", host_token=room.host_token)
    await host.expect("admitted")
    first = await Browser.open(rooms, room.meeting_code, "Ann")
    second = await Browser.open(rooms, room.meeting_code, "Bob")
    await eventually(lambda: len(rooms.rooms[room.id].waiting()) == 2)
    await host.lobby_until(clock, bool)
    host.send({"type": "host.admit_all"})
    await first.expect("admitted")
    await second.expect("admitted")
    assert await host.lobby_until(clock, lambda names: not names) == []


async def test_host_only_messages_are_refused_to_guests(container: Container, application_id: str,
                                                        rooms: Rooms) -> None:
    room = await make_room(container, application_id)
    host, guest = await host_and_guest(rooms, room)
    for message in ({"type": "host.mute", "participant_id": host.id}, {"type": "host.end"},
                    {"type": "host.lock", "locked": True}, {"type": "host.record", "active": True}):
        guest.send(message)
        assert (await guest.expect("error"))["code"] == "forbidden"
    guest.send({"type": "ping"})
    await guest.expect("pong")
    host.send({"type": "host.mute", "participant_id": guest.id})
    assert (await guest.expect("muted"))["by"] == host.id


async def test_a_locked_room_refuses_new_guests(container: Container, application_id: str, rooms: Rooms) -> None:
    room = await make_room(container, application_id)
    host, _ = await host_and_guest(rooms, room)
    host.send({"type": "host.lock", "locked": True})
    await host.expect("locked", locked=True)
    late = Browser(rooms, room.meeting_code)
    late.send({"type": "hello", "v": 1, "name": "Lee"})
    assert (await late.expect("denied"))["reason"] == "locked"
    assert await late.closed() == protocol.CLOSE_DENIED


# --- resume ---------------------------------------------------------------------------------------


async def test_resume_within_the_grace_period_and_drop_after_it(container: Container, application_id: str,
                                                                rooms: Rooms, clock: FakeClock) -> None:
    room = await make_room(container, application_id)
    host, guest = await host_and_guest(rooms, room)
    live = rooms.rooms[room.id]
    gus = live.participants[guest.id]
    seen_before = len(host.seen)
    await guest.drop()
    await eventually(lambda: gus.grace is not None and clock.pending() > 0)
    clock.advance(GRACE - 1)
    resumed = await Browser.open(rooms, room.meeting_code, "Gus",
                                 resume={"participant_id": guest.id, "resume_token": guest.welcome["resume_token"]})
    assert resumed.welcome["resumed"] is True and resumed.id == guest.id
    await resumed.expect("admitted")
    assert gus.grace is None and clock.pending() == 0
    resumed.send({"type": "chat.send", "text": "back"})
    await host.expect("chat.message", text="back")
    assert not [f for f in host.seen[seen_before:] if f["type"] in ("participant.joined", "participant.left")]

    await resumed.drop()
    await eventually(lambda: gus.grace is not None and clock.pending() > 0)
    clock.advance(GRACE + 1)
    left = await host.expect("participant.left")
    assert left == {"type": "participant.left", "participant_id": guest.id, "reason": "dropped"}
    assert not gus.present() and gus.media is None


async def test_a_lobby_participant_who_drops_is_gone_at_once(container: Container, application_id: str,
                                                             rooms: Rooms, clock: FakeClock) -> None:
    room = await make_room(container, application_id, "explicit_approval")
    host = await Browser.open(rooms, room.meeting_code, "Hana", host_token=room.host_token)
    await host.expect("admitted")
    guest = await Browser.open(rooms, room.meeting_code, "Gus")
    assert await host.lobby_until(clock, bool) == ["Gus"]
    await guest.drop()
    assert await host.lobby_until(clock, lambda names: not names) == []


# --- limits ---------------------------------------------------------------------------------------


async def test_participant_and_video_sender_limits(container: Container, application_id: str,
                                                   rooms: Rooms) -> None:
    room = await make_room(container, application_id)
    host = await Browser.open(rooms, room.meeting_code, "Hana", host_token=room.host_token)
    await host.expect("admitted")
    host.send({"type": "media.publish", "kind": "camera", "sdp": VIDEO_SDP})
    answer = await host.expect("media.answer")
    await host.expect("participant.updated")  # the feed is announced once live
    guest = await Browser.open(rooms, room.meeting_code, "Gus")
    admitted = await guest.expect("admitted")
    assert admitted["video_allowed"] is False and "1 people" in admitted["message"]
    assert [x["feeds"].get("camera") for x in admitted["participants"] if x["name"] == "Hana"] == [answer["feed"]]
    guest.send({"type": "media.publish", "kind": "camera", "sdp": VIDEO_SDP})
    assert (await guest.expect("media.error"))["code"] == "video_limit"
    guest.send({"type": "media.publish", "kind": "camera", "sdp": AUDIO_SDP})
    await guest.expect("media.answer")  # audio is not limited

    third = await Browser.open(rooms, room.meeting_code, "Tia")
    await third.expect("admitted")
    fourth = await Browser.open(rooms, room.meeting_code, "Flo")
    assert (await fourth.expect("denied"))["reason"] == "full"
    assert await fourth.closed() == protocol.CLOSE_DENIED


# --- what Janus says unasked ----------------------------------------------------------------------


async def test_a_janus_hangup_of_a_publisher_withdraws_its_feed(container: Container, application_id: str,
                                                                rooms: Rooms, media: FakeMedia,
                                                                clock: FakeClock) -> None:
    room = await make_room(container, application_id)
    host, guest = await host_and_guest(rooms, room)
    guest.send({"type": "media.publish", "kind": "camera", "sdp": VIDEO_SDP})
    feed = (await guest.expect("media.answer"))["feed"]
    updated = await host.expect("participant.updated")
    assert updated["participant"]["feeds"] == {"camera": feed}
    janus = next(x for x in media.opened if x.token == rooms.rooms[room.id].participants[guest.id].media_token)

    janus.janus_says("hangup", "camera", feed, {"janus": "hangup", "reason": "DTLS alert"})
    told = await guest.expect("media.error")
    assert told["code"] == "publish_failed" and told["kind"] == "camera"
    clock.advance(1)  # past the coalescing interval of participant.updated (signalling/coalesce.py)
    withdrawn = await host.expect("participant.updated")
    assert withdrawn["participant"]["feeds"] == {} and withdrawn["participant"]["camera"] is False
    assert janus.unpublished == ["camera"]
    # The video-sender place is free again: the guest (or anyone) may publish video.
    guest.send({"type": "media.publish", "kind": "camera", "sdp": VIDEO_SDP})
    again = await guest.expect("media.answer")
    assert again["feed"] != feed

    # Another feed's hangup, or one of a media session that was replaced, changes nothing.
    janus.janus_says("hangup", "camera", feed, {})
    janus.janus_says("hangup", "subscriber", again["feed"], {})
    host.send({"type": "ping"})
    await host.expect("pong")
    assert rooms.rooms[room.id].participants[guest.id].feeds == {"camera": again["feed"]}


async def test_a_janus_kick_of_a_presence_reopens_the_participants_media(
        container: Container, application_id: str, rooms: Rooms, media: FakeMedia) -> None:
    room = await make_room(container, application_id)
    _, guest = await host_and_guest(rooms, room)
    gus = rooms.rooms[room.id].participants[guest.id]
    janus = gus.media
    assert isinstance(janus, FakeMediaParticipant)
    # Somebody else kicked: every handle of the room hears it as a plain event; nothing happens.
    janus.janus_says("event", "presence", None, {"plugindata": {"data": {"kicked": 12345}}})
    janus.janus_says("kicked", "presence", None,
                     {"plugindata": {"data": {"videoroom": "event", "leaving": "ok", "reason": "kicked"}}})
    await guest.expect("media.reset")
    assert janus.closed and gus.media is not janus and isinstance(gus.media, FakeMediaParticipant)
    assert not gus.media.closed


# --- the bus --------------------------------------------------------------------------------------


async def test_room_ended_on_the_bus_ends_the_meeting(container: Container, application_id: str,
                                                      rooms: Rooms, clock: FakeClock) -> None:
    room = await make_room(container, application_id, "explicit_approval")
    host = await Browser.open(rooms, room.meeting_code, "Hana", host_token=room.host_token)
    await host.expect("admitted")
    waiting = await Browser.open(rooms, room.meeting_code, "Gus")
    await host.lobby_until(clock, bool)
    await container.bus.publish(RoomEnded(room_id=room.id, reason="deleted"))
    await host.expect("meeting.ended")
    assert await host.closed() == protocol.CLOSE_ENDED
    assert (await waiting.expect("denied"))["reason"] == "ended"
    assert room.id not in rooms.rooms


async def test_room_updated_on_the_bus_applies_the_new_options(container: Container, application_id: str,
                                                               rooms: Rooms) -> None:
    room = await make_room(container, application_id, "none")
    host = await Browser.open(rooms, room.meeting_code, "Hana", host_token=room.host_token)
    await host.expect("admitted")
    async with container.sessions.begin() as db:
        row = await db.get(t.Room, room.serial)
        assert row is not None
        row.join_approval_level = "explicit_approval"
        row.available_features = {"is_recording_available": False}
    await container.bus.publish(RoomUpdated(room_id=room.id))
    guest = await Browser.open(rooms, room.meeting_code, "Gus")
    assert (await guest.expect("lobby"))["reason"] == "approval"
    host.send({"type": "host.record", "active": True})
    assert (await host.expect("error"))["code"] == "not_available"


async def test_a_recording_stops_after_the_room_stopped_offering_it(container: Container, application_id: str,
                                                                    rooms: Rooms) -> None:
    room = await make_room(container, application_id)
    host = await Browser.open(rooms, room.meeting_code, "Hana", host_token=room.host_token)
    await host.expect("admitted")
    host.send({"type": "host.record", "active": True})
    await host.expect("recording", active=True)
    async with container.sessions.begin() as db:
        row = await db.get(t.Room, room.serial)
        assert row is not None
        row.available_features = {"is_recording_available": False}
    await container.bus.publish(RoomUpdated(room_id=room.id))
    host.send({"type": "host.record", "active": True})
    assert (await host.expect("error"))["code"] == "not_available"
    host.send({"type": "host.record", "active": False})
    await host.expect("recording", active=False)
