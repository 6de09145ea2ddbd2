"""The pure lobby and limit rules (domain/lobby.py): who waits, and why; who is refused."""

from __future__ import annotations

import pytest

from meetkit.domain import lobby


@pytest.mark.parametrize(("approval", "is_host", "host_present", "expected"), [
    ("none", False, False, None),
    ("none", True, False, None),
    ("after_owner_only", False, False, "host_absent"),
    ("after_owner_only", False, True, None),
    ("after_owner_only", True, False, None),
    ("explicit_approval", False, False, "approval"),
    ("explicit_approval", False, True, "approval"),
    ("explicit_approval", True, False, None),
])
def test_who_waits_in_the_lobby_and_why(approval: str, is_host: bool, host_present: bool,
                                         expected: str | None) -> None:
    assert lobby.lobby_reason(is_host=is_host, approval=approval, host_present=host_present) == expected


def test_a_locked_room_refuses_guests_but_not_hosts() -> None:
    assert lobby.refusal_on_arrival(is_host=False, locked=True) == "locked"
    assert lobby.refusal_on_arrival(is_host=True, locked=True) is None
    assert lobby.refusal_on_arrival(is_host=False, locked=False) is None


def test_only_those_waiting_for_a_host_are_released_by_one() -> None:
    assert lobby.released_by_host("host_absent")
    assert not lobby.released_by_host("approval")


def test_limits() -> None:
    assert not lobby.room_is_full(2, 3)
    assert lobby.room_is_full(3, 3)
    assert lobby.may_send_video(video_senders=0, max_video_senders=1)
    assert not lobby.may_send_video(video_senders=1, max_video_senders=1)
    # A participant already sending keeps the place it holds.
    assert lobby.may_send_video(video_senders=1, max_video_senders=1, already_sending=True)


def test_a_camera_holds_a_video_place_only_while_it_is_on() -> None:
    assert lobby.video_places(video_kinds={"camera"}, camera_on=True) == 1
    assert lobby.video_places(video_kinds={"camera"}, camera_on=False) == 0  # its sender kept, its place free
    assert lobby.video_places(video_kinds={"camera", "screen"}, camera_on=False) == 1
    assert lobby.video_places(video_kinds=set(), camera_on=True) == 0
    assert lobby.holds_video_place("camera", video_kinds={"camera"}, camera_on=True)
    assert not lobby.holds_video_place("camera", video_kinds={"camera"}, camera_on=False)
    assert lobby.holds_video_place("screen", video_kinds={"screen"}, camera_on=False)
    assert not lobby.holds_video_place("screen", video_kinds={"camera"}, camera_on=True)
