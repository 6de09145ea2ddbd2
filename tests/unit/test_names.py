"""domain/names.py: what is left of a typed name (issue 10, finding 7)."""

from __future__ import annotations

import pytest

from meetkit.domain.names import (
    MAX_MARKS_PER_CHARACTER,
    MAX_NAME_CHARACTERS,
    MAX_NAME_CODE_POINTS,
    BlankName,
    normalize_name,
)

ENGLAND = "🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"


@pytest.mark.parametrize(("raw", "shown"), [
    ("Ann", "Ann"),
    ("  Ann   Lee  ", "Ann Lee"),
    ("Ann\tLee\n", "Ann Lee"),
    ("Ann\u2028Lee\u00a0Jr", "Ann Lee Jr"),  # line separator and no-break space are whitespace too
    ("e\u0301va", "\u00e9va"),  # NFC: one code point for é
    ("Gus\u202e", "Gus"),  # right-to-left override
    ("\u2067Hana\u2069", "Hana"),  # isolates
    ("Ha\u200bna", "Hana"),  # zero-width space
    ("\u200fHana\u200e", "Hana"),  # RLM, LRM
    ("\ufeffAnn\u00ad", "Ann"),  # BOM, soft hyphen
    ("Host\r\n[12:00] Host: hi", "Host [12:00] Host: hi"),
    ("Ann\x00\x07\x1b[31m", "Ann[31m"),  # NUL, BEL, ESC
    ("\u0301Ann", "Ann"),  # a mark left without its base
    ("\ue000Ann", "Ann"),  # private use
    ("👩🏽‍💻 Dev", "👩🏽‍💻 Dev"),  # ZWJ kept: one emoji
    ("\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645", "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"),  # ZWNJ
    (ENGLAND, ENGLAND),  # a subdivision flag: its tag characters stay
    ("שלום Ann", "שלום Ann"),  # right-to-left letters stay; only the controls go
])
def test_names_keep_what_people_see(raw: str, shown: str) -> None:
    assert normalize_name(raw) == shown


@pytest.mark.parametrize("raw", ["", "   ", "\u202e\u202c", "\x00\n\t", "\u200b\u200d", "\u0301\u0302"])
def test_a_name_with_nothing_visible_is_refused(raw: str) -> None:
    with pytest.raises(BlankName):
        normalize_name(raw)


def test_length_counts_characters_as_people_see_them() -> None:
    family = "👨‍👩‍👧‍👦"  # 7 code points, one character
    assert len(normalize_name("a" * 200)) == MAX_NAME_CHARACTERS
    name = normalize_name("é" * 60)
    assert len(name) == 60  # 60 characters, though each was two code points before NFC
    many = normalize_name(family * 20)
    assert len(many) <= MAX_NAME_CODE_POINTS and len(many) % len(family) == 0  # cut between characters


def test_a_tower_of_combining_marks_is_cut_down() -> None:
    zalgo = "Z" + "\u0336\u0337\u0338\u0339\u033a\u033b" * 5 + "oe"
    name = normalize_name(zalgo)
    assert name.startswith("Z") and name.endswith("oe") and len(name) == 1 + MAX_MARKS_PER_CHARACTER + 2
    assert normalize_name("Nguy\u1ec5n") == "Nguy\u1ec5n"  # Vietnamese keeps its marks
