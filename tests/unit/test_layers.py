"""The simulcast layer a viewer's video gets (signalling/layers.py): asked for when it changes, asked
for again when Janus has not reached it in time (libwebrtc refuses a keyframe request that comes within
300 ms of another), never before Janus relays anything on the m-line, and at most ASKS times."""

from __future__ import annotations

from meetkit.clock import FakeClock
from meetkit.signalling.layers import ASKS, CHECK_AFTER, ViewerLayers

KEY = ("1", 7, "v0")  # subscriber mid 1 carries feed 7's video m-line v0
ACTIVE = {KEY}


def viewer() -> tuple[ViewerLayers, FakeClock, list[int]]:
    clock, woken = FakeClock(), [0]

    def wake() -> None:
        woken[0] += 1

    return ViewerLayers(clock, wake), clock, woken


def test_a_subscribed_video_is_not_configured_again() -> None:
    layers, _, _ = viewer()
    layers.subscribed(KEY, 2)
    assert layers.changes({(7, "v0"): 2}, ACTIVE) == {}


def test_a_new_wanted_layer_is_configured_once_janus_took_it() -> None:
    layers, _, _ = viewer()
    layers.subscribed(KEY, 0)
    assert layers.changes({(7, "v0"): 2}, ACTIVE) == {KEY: 2}
    # Janus refused the configure (nothing recorded): it is asked again at the next pass.
    assert layers.changes({(7, "v0"): 2}, ACTIVE) == {KEY: 2}
    layers.configured_now({KEY: 2})
    assert layers.changes({(7, "v0"): 2}, ACTIVE) == {}


def test_a_layer_janus_did_not_reach_is_asked_for_again_after_check_after() -> None:
    layers, clock, woken = viewer()
    layers.subscribed(KEY, 0)
    layers.heard("1", 0)
    layers.configured_now(layers.changes({(7, "v0"): 2}, ACTIVE))
    before = woken[0]
    clock.advance(CHECK_AFTER / 2)
    assert layers.changes({(7, "v0"): 2}, ACTIVE) == {}  # not yet
    clock.advance(CHECK_AFTER / 2)
    assert woken[0] > before  # the viewer's worker runs a pass then
    assert layers.changes({(7, "v0"): 2}, ACTIVE) == {KEY: 2}


def test_a_layer_janus_reached_is_left_alone() -> None:
    layers, clock, _ = viewer()
    layers.subscribed(KEY, 0)
    layers.heard("1", 0)
    layers.configured_now(layers.changes({(7, "v0"): 2}, ACTIVE))
    layers.heard("1", 1)
    layers.heard("1", 2)
    clock.advance(CHECK_AFTER * 3)
    assert layers.changes({(7, "v0"): 2}, ACTIVE) == {}


def test_nothing_is_asked_again_before_janus_relays_anything() -> None:
    # Before the subscriber's connection is up a keyframe request would be wasted (and would use up
    # libwebrtc's 300 ms for the one Janus makes when the connection comes up).
    layers, clock, _ = viewer()
    layers.subscribed(KEY, 2)
    clock.advance(CHECK_AFTER * 5)
    assert layers.changes({(7, "v0"): 2}, ACTIVE) == {}


def test_a_layer_is_asked_for_at_most_asks_times() -> None:
    layers, clock, _ = viewer()
    layers.subscribed(KEY, 2)
    layers.heard("1", 1)  # the publisher no longer sends its biggest layer: Janus fell back
    asked = 1
    for _ in range(ASKS * 2):
        clock.advance(CHECK_AFTER)
        changes = layers.changes({(7, "v0"): 2}, ACTIVE)
        if changes:
            layers.configured_now(changes)
            asked += 1
    assert asked == ASKS
    # A new wish for that video starts afresh.
    assert layers.changes({(7, "v0"): 1}, ACTIVE) == {KEY: 1}


def test_an_m_line_reused_for_another_video_is_new() -> None:
    layers, clock, _ = viewer()
    layers.subscribed(KEY, 2)
    layers.heard("1", 2)
    other = ("1", 9, "v0")  # Janus put feed 9's video on the freed m-line 1
    assert layers.changes({(9, "v0"): 0}, {other}) == {other: 0}
    layers.subscribed(other, 0)
    clock.advance(CHECK_AFTER * 2)
    # What Janus said about m-line 1 was about feed 7: not taken as feed 9's layer.
    assert layers.changes({(9, "v0"): 0}, {other}) == {}
    assert layers.configured == {other: 0}
