"""Which Janus of a pool a new meeting goes to (domain/placement.py), and MEETKIT_JANUS_URLS."""

from __future__ import annotations

import pytest

from meetkit.domain.placement import JanusEntry, JanusLoad, Limits, parse_janus_urls, place

LIMITS = Limits(streams=1000, participants=100, recent_joins=50)


def load(name: str, rooms: list[int], joins: int = 0) -> JanusLoad:
    return JanusLoad.of(name, rooms, joins)


def test_urls_with_and_without_names() -> None:
    assert parse_janus_urls("a=ws://10.0.0.1:8188, ws://10.0.0.2:8188") == [
        JanusEntry("a", "ws://10.0.0.1:8188"), JanusEntry("janus2", "ws://10.0.0.2:8188")]


@pytest.mark.parametrize(("text", "error"), [
    ("", "names no Janus"),
    ("a=http://x", "must start with ws://"),
    ("a=ws://x,a=ws://y", "named twice"),
    ("a b=ws://x", "is not a name"),
])
def test_bad_urls_say_what_is_wrong(text: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        parse_janus_urls(text)


def test_load_counts_each_room_less_its_listener() -> None:
    x = load("a", [4, 1])  # 3 people and the listener; an empty room's listener
    assert (x.rooms, x.participants, x.streams) == (2, 3, 12)


def test_the_least_loaded_open_janus_gets_the_meeting() -> None:
    assert place([load("a", [6]), load("b", [3])], set(), LIMITS) == "b"
    assert place([load("a", [6]), load("b", [3])], {"b"}, LIMITS) == "a"
    assert place([load("a", [3]), load("b", [3])], set(), LIMITS) == "a"  # a tie: by name, the same on every node


def test_recent_joins_count_before_list_shows_them() -> None:
    assert place([load("a", [], joins=3), load("b", [])], set(), LIMITS) == "b"


def test_a_stressed_janus_gets_nothing_while_another_is_calm() -> None:
    busy = load("a", [], joins=50)  # under load by joins only
    assert place([busy, load("b", [10])], set(), LIMITS) == "b"  # b carries more streams, a is stressed
    # Everyone stressed: the least loaded still takes it (media on a busy Janus beats none).
    assert place([load("a", [30]), load("b", [40])], set(), Limits(10, 10, 10)) == "a"


def test_nowhere_when_none_is_reachable_or_all_are_drained() -> None:
    assert place([], set(), LIMITS) is None
    assert place([load("a", [])], {"a"}, LIMITS) is None
