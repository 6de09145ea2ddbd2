"""The whiteboard's merge rule and element checks (domain/board.py): the rule every page and the
server apply alike, so they agree on the winner without talking to each other."""

from __future__ import annotations

import json

import pytest

from meetkit.domain import board as rules


def el(element_id: str = "a", version: int = 1, nonce: int = 5, **extra: object) -> dict[str, object]:
    return {"id": element_id, "type": "rectangle", "version": version, "versionNonce": nonce, **extra}


def test_the_higher_version_wins_then_the_lower_nonce() -> None:
    stored = {"a": rules.Stamp(3, 50)}
    assert rules.winners(stored, [rules.checked(el(version=2))]) == []
    assert rules.winners(stored, [rules.checked(el(version=3, nonce=60))]) == []
    assert [w[1] for w in rules.winners(stored, [rules.checked(el(version=3, nonce=40))])] == [rules.Stamp(3, 40)]
    assert [w[1] for w in rules.winners(stored, [rules.checked(el(version=4, nonce=99))])] == [rules.Stamp(4, 99)]
    assert len(rules.winners({}, [rules.checked(el("new"))])) == 1


def test_within_one_batch_the_best_copy_of_an_id_counts() -> None:
    batch = [rules.checked(el(version=2, width=1)), rules.checked(el(version=5, width=2)),
             rules.checked(el(version=4, width=3))]
    [(element_id, stamp, body)] = rules.winners({}, batch)
    assert (element_id, stamp.version, json.loads(body)["width"]) == ("a", 5, 2)


@pytest.mark.parametrize("bad, code", [
    ({"type": "rectangle", "version": 1, "versionNonce": 1}, "bad_message"),  # no id
    (el("has space"), "bad_message"),
    (el("x" * 65), "bad_message"),
    (el(version=0), "bad_message"),
    ({**el(), "version": 1.5}, "bad_message"),
    ({**el(), "version": True}, "bad_message"),  # a bool is no version
    ({**el(), "versionNonce": "7"}, "bad_message"),
    ({**el(), "type": 3}, "bad_message"),
    (el(fileId="../../etc"), "bad_message"),
    (el(points=[[0, 0]] * 10_000), "too_large"),
    ({**el(), "version": 10**400}, "bad_message"),  # a 400-digit version: no overflow, a refusal
    (el(x=float("nan")), "bad_message"),  # JSON's NaN literal, which the socket's parser lets through
    (el(width=float("inf")), "bad_message"),
])
def test_bad_elements_are_refused_with_a_code(bad: dict[str, object], code: str) -> None:
    with pytest.raises(rules.BoardError) as caught:
        rules.checked(bad)
    assert caught.value.code == code


def test_a_clear_beats_every_copy_a_page_holds() -> None:
    gone = rules.cleared(el(version=7, nonce=3), nonce=1000)
    assert gone["isDeleted"] is True and gone["version"] == 7 + rules.CLEAR_LEAD
    _, stamp, _ = rules.checked(gone)
    assert stamp.beats(rules.Stamp(7, 0))  # the page's last copy, whatever its nonce
    assert stamp.beats(rules.Stamp(7 + 500, 0))  # and a drag on a page that bumped it many times since


def test_a_deleted_element_is_kept_small() -> None:
    _, _, body = rules.checked(el(version=3, isDeleted=True, points=[[1, 2]] * 1000, text="x" * 5000, index="a5"))
    kept = json.loads(body)
    assert kept["isDeleted"] is True and kept["index"] == "a5"
    assert kept["points"] == [[0, 0], [1, 1]] and kept["text"] == ""


def test_z_order_follows_the_fractional_index() -> None:
    ordered = rules.z_order([el("c", index="a2"), el("x"), el("a", index="a0"), el("b", index="a1")])
    assert [e["id"] for e in ordered] == ["a", "b", "c", "x"]
