"""Who hears whom (domain/audio_slots.py): direct below the threshold, stable slots above it."""

from __future__ import annotations

from meetkit.domain.audio_slots import choose_audio


def choose(listener: str, senders: list[str], spoke: dict[str, float], previous: tuple[str | None, ...] = (),
           hosts: tuple[str, ...] = (), presenter: str | None = None, up_to: int = 2, slots: int = 2):
    return choose_audio(listener, senders, spoke, hosts, presenter, all_up_to=up_to, slots=slots,
                        previous=[x for x in previous if x is not None])


def test_up_to_the_threshold_everyone_is_direct_but_oneself() -> None:
    got = choose("a", ["a", "b"], {}, up_to=2)
    assert got.direct == {"b"} and got.slots == ()


def test_above_it_slots_carry_the_most_recent_speakers() -> None:
    got = choose("a", ["a", "b", "c", "d", "e"], {"d": 5.0, "c": 3.0, "b": 1.0})
    assert got.direct == frozenset() and got.slots == ("d", "c")


def test_slots_fill_with_silent_senders_in_join_order() -> None:
    got = choose("a", ["a", "b", "c", "d"], {"d": 1.0})
    assert got.slots == ("d", "b")


def test_a_slot_keeps_its_speaker_and_the_least_recent_is_replaced() -> None:
    first = choose("a", ["a", "b", "c", "d", "e"], {"b": 1.0, "c": 2.0})
    assert first.slots == ("c", "b")
    # d speaks: b (least recent) gives its slot to d; c stays where it was.
    second = choose("a", ["a", "b", "c", "d", "e"], {"b": 1.0, "c": 2.0, "d": 3.0}, previous=first.slots)
    assert second.slots == ("c", "d")
    # c speaks again: nothing moves.
    third = choose("a", ["a", "b", "c", "d", "e"], {"b": 1.0, "c": 4.0, "d": 3.0}, previous=second.slots)
    assert third.slots == ("c", "d")


def test_hosts_and_presenter_are_always_direct_and_never_take_a_slot() -> None:
    got = choose("a", ["a", "h", "p", "c", "d", "e"], {"h": 9.0, "p": 8.0, "e": 1.0}, hosts=("h",), presenter="p")
    assert got.direct == {"h", "p"} and got.slots == ("e", "c")
    # The host listening does not receive itself.
    assert "h" not in choose("h", ["a", "h", "p", "c"], {}, hosts=("h",)).direct


def test_a_slot_no_longer_needed_is_none_in_place() -> None:
    got = choose_audio("a", ["a", "b", "c"], {}, (), None, all_up_to=2, slots=4, previous=["b", "x", "c"])
    assert got.slots == ("b", None, "c")
    # Back under the threshold: no slots at all.
    assert choose_audio("a", ["a", "b"], {}, (), None, all_up_to=2, slots=4, previous=["b"]).slots == ()


def test_a_tile_gets_the_layer_that_fits_its_width() -> None:
    from meetkit.domain.layers import substream_for

    assert [substream_for(w, low_bandwidth=False) for w in (0, 320, 360, 361, 720, 721, 3840)] == [0, 0, 0, 1, 1, 2, 2]
    assert substream_for(1920, low_bandwidth=True) == 0
