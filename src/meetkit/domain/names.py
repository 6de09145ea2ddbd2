"""What a participant may be called: the name typed in the browser, made safe to show to others.

A name is shown in tiles, the participant list, the lobby, the chat and its export. Left as typed it
could carry control characters (fake lines in a text export), bidi overrides and isolates (``Gus``
shown as ``suG``, or a name that reorders the text after it), invisible characters (``Ha\u200bna``
beside ``Hana``) or a tower of combining marks over its neighbours. ``normalize_name`` keeps what a
person can see and type, and counts length as people see it: in grapheme clusters (``regex``'s
``\\X``, Unicode's extended grapheme clusters), so ``👩🏽‍💻`` is one character, not four."""

from __future__ import annotations

import unicodedata

import regex

MAX_NAME_CHARACTERS = 64  # user-perceived characters (grapheme clusters)
MAX_NAME_CODE_POINTS = 100  # what the participants table stores (String(100))
MAX_MARKS_PER_CHARACTER = 4  # combining marks on one character: enough for any script, not a tower

# Format characters (category Cf) that writing needs: ZWNJ and ZWJ (Persian, Indic scripts, emoji
# sequences) and the tag characters of subdivision flags (🏴 + tags). Every other Cf goes, which
# includes the bidi embeddings, overrides and isolates (U+202A..202E, U+2066..2069), the marks LRM,
# RLM and ALM, zero-width space and joiners, soft hyphen and the BOM.
_KEPT_FORMAT = frozenset({"\u200c", "\u200d"})
_TAGS = range(0xE0020, 0xE0080)
_GRAPHEME = regex.compile(r"\X")


class BlankName(ValueError):
    """Nothing visible is left of the name."""


def _kept(ch: str) -> bool:
    cat = unicodedata.category(ch)
    if cat in ("Cc", "Cs", "Co"):
        return False  # controls, lone surrogates, private use (shows as nothing or as tofu)
    if cat == "Cf":
        return ch in _KEPT_FORMAT or ord(ch) in _TAGS
    return True


def _is_space(ch: str) -> bool:
    return ch.isspace() or unicodedata.category(ch) in ("Zs", "Zl", "Zp")


def _tame(cluster: str) -> str:
    """One user-perceived character with at most MAX_MARKS_PER_CHARACTER combining marks."""
    out: list[str] = []
    marks = 0
    for ch in cluster:
        if unicodedata.category(ch) in ("Mn", "Me"):
            marks += 1
            if marks > MAX_MARKS_PER_CHARACTER:
                continue
        out.append(ch)
    return "".join(out)


def normalize_name(raw: str) -> str:
    """The name others see: NFC; controls, bidi and invisible format characters removed; every run of
    whitespace one space, none at the ends; at most MAX_NAME_CHARACTERS user-perceived characters
    (and MAX_NAME_CODE_POINTS code points), cut at a character boundary. Raises ``BlankName`` when
    nothing is left."""
    text = unicodedata.normalize("NFC", raw)
    words: list[str] = []
    word: list[str] = []
    for ch in text:
        if _is_space(ch):
            if word:
                words.append("".join(word))
                word = []
        elif _kept(ch):
            word.append(ch)
    if word:
        words.append("".join(word))
    text = " ".join(words)
    # A leading combining mark (once its base was a removed character) would sit on the text before
    # the name wherever it is shown: it goes too.
    while text and unicodedata.category(text[0]) in ("Mn", "Me"):
        text = text[1:]
    kept: list[str] = []
    size = 0
    for cluster in _GRAPHEME.findall(text):
        cluster = _tame(cluster)
        if len(kept) == MAX_NAME_CHARACTERS or size + len(cluster) > MAX_NAME_CODE_POINTS:
            break
        kept.append(cluster)
        size += len(cluster)
    name = "".join(kept).strip()
    if not name or all(unicodedata.category(c)[0] in "MZ" or c in _KEPT_FORMAT or ord(c) in _TAGS for c in name):
        raise BlankName("the name has no visible characters")
    return name
