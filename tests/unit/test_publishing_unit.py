"""Publishing through the session loop (real rooms and signalling, the media server faked at its
process boundary, as in test_room_unit): trickled candidates both ways, the ICE-restart
renegotiation of a live publisher, and a camera that frees its video place while it is off."""

# ruff: noqa: F811 (the fixtures of test_room_unit are imported, then named as test arguments)
from __future__ import annotations

from meetkit.container import Container
from meetkit.signalling.rooms import Rooms

from .test_room_unit import (  # noqa: F401 (the fixtures are used by name)
    AUDIO_SDP,
    VIDEO_SDP,
    Browser,
    FakeMedia,
    FakeMediaParticipant,
    application_id,
    clock,
    container,
    host_and_guest,
    make_room,
    media,
    rooms,
)

CANDIDATE = {"candidate": "candidate:1 1 udp 2122194687 127.0.0.1 48808 typ host", "sdpMid": "0",
             "sdpMLineIndex": 0}


def _janus_of(media: FakeMedia, rooms: Rooms, room_id: str, participant_id: str) -> FakeMediaParticipant:
    token = rooms.rooms[room_id].participants[participant_id].media_token
    return next(x for x in media.opened if x.token == token)


async def test_candidates_follow_a_trickled_offer_and_janus_candidates_reach_the_browser(
        container: Container, application_id: str, rooms: Rooms, media: FakeMedia) -> None:
    room = await make_room(container, application_id)
    _, guest = await host_and_guest(rooms, room)
    guest.send({"type": "media.publish", "kind": "camera", "sdp": VIDEO_SDP, "trickle": True})
    await guest.expect("media.answer")
    guest.send({"type": "media.candidate", "target": "camera", "candidate": CANDIDATE})
    guest.send({"type": "media.candidate", "target": "camera", "candidate": {"candidate": ""}})  # one m-line's end
    guest.send({"type": "media.candidate", "target": "subscriber", "candidate": None})
    guest.send({"type": "ping"})
    await guest.expect("pong")
    janus = _janus_of(media, rooms, room.id, guest.id)
    assert janus.offers == [("camera", "publish", True)]
    assert janus.trickled == [("camera", CANDIDATE), ("subscriber", None)]

    janus.janus_says("trickle", "camera", None, {"janus": "trickle", "candidate": CANDIDATE})
    janus.janus_says("trickle", "subscriber", 7, {"janus": "trickle", "candidate": {"completed": True}})
    assert (await guest.expect("media.candidate")) == {"type": "media.candidate", "target": "camera",
                                                       "candidate": CANDIDATE}
    assert (await guest.expect("media.candidate")) == {"type": "media.candidate", "target": "subscriber",
                                                       "candidate": None}


async def test_a_bad_candidate_is_refused_with_a_clear_error(
        container: Container, application_id: str, rooms: Rooms) -> None:
    room = await make_room(container, application_id)
    _, guest = await host_and_guest(rooms, room)
    for bad in ({"target": "mixer", "candidate": None}, {"target": "camera", "candidate": {"candidate": "x" * 600}},
                {"target": "camera"}, {"target": "camera", "candidate": {"candidate": "c", "sdpMLineIndex": -1}}):
        guest.send({"type": "media.candidate", **bad})
        assert (await guest.expect("error"))["code"] == "bad_message"


async def test_a_restart_renegotiates_the_live_publisher_and_keeps_its_feed(
        container: Container, application_id: str, rooms: Rooms, media: FakeMedia) -> None:
    room = await make_room(container, application_id)
    host, guest = await host_and_guest(rooms, room)
    guest.send({"type": "media.publish", "kind": "screen", "sdp": VIDEO_SDP, "restart": True})
    refused = await guest.expect("media.error")
    assert refused["code"] == "publish_failed" and refused["kind"] == "screen"  # nothing to restart

    guest.send({"type": "media.publish", "kind": "camera", "sdp": VIDEO_SDP, "trickle": True})
    feed = (await guest.expect("media.answer"))["feed"]
    await host.expect("participant.updated")
    guest.send({"type": "media.publish", "kind": "camera", "sdp": VIDEO_SDP, "trickle": True, "restart": True})
    again = await guest.expect("media.answer")
    assert again["feed"] == feed and again["sdp"] == "v=0\r\n(answer again)"
    janus = _janus_of(media, rooms, room.id, guest.id)
    assert janus.offers == [("camera", "publish", True), ("camera", "renegotiate", True)]
    assert janus.unpublished == [] and janus.published == {"camera": feed}


async def test_a_camera_turned_off_frees_its_video_place(
        container: Container, application_id: str, rooms: Rooms) -> None:
    room = await make_room(container, application_id)  # one video sender at a time (test_room_unit)
    host, guest = await host_and_guest(rooms, room)
    host.send({"type": "media.publish", "kind": "camera", "sdp": VIDEO_SDP})
    await host.expect("media.answer")
    guest.send({"type": "media.publish", "kind": "camera", "sdp": VIDEO_SDP})
    assert (await guest.expect("media.error"))["code"] == "video_limit"
    guest.send({"type": "media.publish", "kind": "camera", "sdp": AUDIO_SDP})
    await guest.expect("media.answer")

    host.send({"type": "media.state", "mic": True, "camera": False})  # its video sender stays, its place goes
    host.send({"type": "ping"})
    await host.expect("pong")
    guest.send({"type": "media.publish", "kind": "camera", "sdp": VIDEO_SDP})
    await guest.expect("media.answer")

    host.send({"type": "media.state", "mic": True, "camera": True})  # the place is the guest's now
    refused = await host.expect("media.error")
    assert refused["code"] == "video_limit" and refused["kind"] == "camera"
    participants = rooms.rooms[room.id].participants
    assert participants[host.id].camera is False and participants[guest.id].camera is True

    guest.send({"type": "media.state", "mic": True, "camera": False})
    guest.send({"type": "ping"})
    await guest.expect("pong")
    host.send({"type": "media.state", "mic": True, "camera": True})
    host.send({"type": "ping"})
    await host.expect("pong")
    assert participants[host.id].camera is True


async def test_a_restart_that_adds_video_asks_the_video_limit_like_a_publish(
        container: Container, application_id: str, rooms: Rooms, media: FakeMedia) -> None:
    room = await make_room(container, application_id)  # one video sender at a time (test_room_unit)
    host, guest = await host_and_guest(rooms, room)
    host.send({"type": "media.publish", "kind": "camera", "sdp": VIDEO_SDP})
    await host.expect("media.answer")
    guest.send({"type": "media.publish", "kind": "camera", "sdp": VIDEO_SDP})
    assert (await guest.expect("media.error"))["code"] == "video_limit"
    guest.send({"type": "media.publish", "kind": "camera", "sdp": AUDIO_SDP})
    feed = (await guest.expect("media.answer"))["feed"]

    # Refused, audio only: a restart offer with video is refused too, and Janus never sees it.
    guest.send({"type": "media.publish", "kind": "camera", "sdp": VIDEO_SDP, "restart": True})
    refused = await guest.expect("media.error")
    assert refused["code"] == "video_limit" and refused["kind"] == "camera"
    participants = rooms.rooms[room.id].participants
    gus, janus = participants[guest.id], _janus_of(media, rooms, room.id, guest.id)
    assert janus.offers == [("camera", "publish", False)] and gus.video_kinds == set() and gus.camera is False
    # A genuine ICE restart (the same audio-only media) is not asked.
    guest.send({"type": "media.publish", "kind": "camera", "sdp": AUDIO_SDP, "restart": True})
    assert (await guest.expect("media.answer"))["feed"] == feed

    # The host's restart that drops its video frees the place; the guest's restart with video takes it.
    host.send({"type": "media.publish", "kind": "camera", "sdp": AUDIO_SDP, "restart": True})
    await host.expect("media.answer")
    assert participants[host.id].video_kinds == set() and participants[host.id].camera is False
    guest.send({"type": "media.publish", "kind": "camera", "sdp": VIDEO_SDP, "restart": True})
    assert (await guest.expect("media.answer"))["feed"] == feed
    assert gus.video_kinds == {"camera"} and gus.camera is True
    assert rooms.rooms[room.id].video_senders() == 1
    host.send({"type": "media.publish", "kind": "camera", "sdp": VIDEO_SDP, "restart": True})
    assert (await host.expect("media.error"))["code"] == "video_limit"
    # The guest's own restart with the same video is free.
    guest.send({"type": "media.publish", "kind": "camera", "sdp": VIDEO_SDP, "restart": True})
    assert (await guest.expect("media.answer"))["feed"] == feed


async def test_the_reply_to_a_publish_names_its_offer(
        container: Container, application_id: str, rooms: Rooms) -> None:
    # A page that gave up waiting (20 s) and published again must not take the first offer's late
    # answer for the second's: the page numbers its offers, the reply carries the number.
    room = await make_room(container, application_id)
    _, guest = await host_and_guest(rooms, room)
    guest.send({"type": "media.publish", "kind": "camera", "sdp": VIDEO_SDP, "trickle": True, "offer": 7})
    answer = await guest.expect("media.answer")
    assert answer["offer"] == 7 and answer["kind"] == "camera"
    guest.send({"type": "media.publish", "kind": "screen", "sdp": VIDEO_SDP, "restart": True, "offer": 8})
    refused = await guest.expect("media.error")
    assert (refused["code"], refused["kind"], refused["offer"]) == ("publish_failed", "screen", 8)
    guest.send({"type": "media.publish", "kind": "camera", "sdp": VIDEO_SDP, "trickle": True, "restart": True})
    assert "offer" not in await guest.expect("media.answer")  # not numbered: nothing to echo
    for bad in (-1, 2**60, "seven"):
        guest.send({"type": "media.publish", "kind": "camera", "sdp": VIDEO_SDP, "offer": bad})
        assert (await guest.expect("error"))["code"] == "bad_message"
