"""The whiteboard's rules: which copy of an element wins, what a clear does, what a board may hold.

The board is an Excalidraw scene: a set of elements, each with an ``id``, a ``version`` that its
editor bumps on every change and a random ``versionNonce`` drawn at each bump. Two pages that change
the same element at once both send it; every copy is merged by the rule Excalidraw's own
collaboration uses (``reconcileElements``): the higher version wins, and at equal versions the lower
nonce, so every page and the server pick the same winner without talking to each other. Deleting is a
change like any other (``isDeleted`` set, version bumped), which is why a page that was away cannot
bring deleted elements back: its older copies lose.

The drawing fields of an element (points, colours, text ...) are Excalidraw's format and pass through
untouched; meetkit checks only what it merges by, and bounds the size."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# Excalidraw's element ids (nanoid) and file ids (a SHA-1 in hex): short, URL- and key-safe.
ELEMENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
FILE_ID = ELEMENT_ID
# What a board may hold: images people place on it. SVG is left out: it is a document that can
# carry script, and the board's files are served from meetkit's own origin.
FILE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
MAX_ELEMENT_BYTES = 48 * 1024  # one element as JSON (a long freehand stroke is the largest)
MAX_ELEMENTS = 20_000  # live and deleted elements of one session's board
MAX_BOARD_BYTES = 16 * 1024 * 1024  # all of one board's elements as stored (deleted ones are kept small)
MAX_FILES = 200  # images on one session's board
MAX_FILE_BYTES_PER_BOARD = 100 * 1024 * 1024  # all of them together


class BoardError(ValueError):
    """An element or a board change refused; ``code`` goes into the socket's ``error``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Stamp:
    """What the merge compares: an element's version and its nonce."""

    version: int
    nonce: int

    def beats(self, other: Stamp | None) -> bool:
        if other is None:
            return True
        return self.version > other.version or (self.version == other.version and self.nonce < other.nonce)


def _integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):  # checked before any float(): a 400-digit integer overflows one
        return value if abs(value) < 2**53 else None
    if isinstance(value, float) and math.isfinite(value) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return None


def checked(raw: Mapping[str, Any]) -> tuple[str, Stamp, str]:
    """``(id, stamp, JSON body)`` of one element from a browser, or :class:`BoardError`."""
    element_id = raw.get("id")
    if not isinstance(element_id, str) or not ELEMENT_ID.match(element_id):
        raise BoardError("bad_message", "an element needs an id of 1 to 64 letters, digits, _ or -")
    version, nonce = _integer(raw.get("version")), _integer(raw.get("versionNonce"))
    if version is None or version < 1 or nonce is None:
        raise BoardError("bad_message", "an element needs an integer version and versionNonce")
    if not isinstance(raw.get("type"), str):
        raise BoardError("bad_message", "an element needs a type")
    file_id = raw.get("fileId")
    if file_id is not None and (not isinstance(file_id, str) or not FILE_ID.match(file_id)):
        raise BoardError("bad_message", "an image's fileId must be 1 to 64 letters, digits, _ or -")
    if raw.get("isDeleted") is True:
        raw = _bare(raw)  # what a deleted element still needs: what pages merge and order by
    try:
        body = json.dumps(raw, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (ValueError, TypeError):  # NaN or Infinity somewhere in the drawing fields
        raise BoardError("bad_message", "an element's numbers must be finite") from None
    if len(body.encode()) > MAX_ELEMENT_BYTES:
        raise BoardError("too_large", f"an element is at most {MAX_ELEMENT_BYTES} bytes")
    return element_id, Stamp(version, nonce), body


# What a deleted element no longer needs of its bulk: replaced by the smallest value Excalidraw still
# reads as well-formed (a page restores deleted copies too, and reads their points).
# (Two points: Excalidraw drops a line or stroke of fewer as invisibly small, and would never delete it.)
_EMPTIED_WHEN_DELETED: dict[str, Any] = {"points": [[0, 0], [1, 1]], "pressures": [], "text": "", "originalText": ""}


def _bare(raw: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(raw)
    for key, empty in _EMPTIED_WHEN_DELETED.items():
        if key in out:
            out[key] = empty
    return out


def winners(stored: Mapping[str, Stamp], incoming: Iterable[tuple[str, Stamp, str]]) -> list[tuple[str, Stamp, str]]:
    """The incoming copies that beat what is stored (the last copy of an id in one batch counts)."""
    latest: dict[str, tuple[str, Stamp, str]] = {}
    for item in incoming:
        held = latest.get(item[0])
        if held is None or item[1].beats(held[1]):
            latest[item[0]] = item
    return [item for element_id, item in latest.items() if item[1].beats(stored.get(element_id))]


# A clear's new versions are this far ahead: a drag in progress on a page bumps its copy several times
# between two sends, and must still lose to the clear.
CLEAR_LEAD = 1_000_000


def cleared(element: Mapping[str, Any], nonce: int) -> dict[str, Any]:
    """The element deleted by a host's clear: a version far ahead, so it beats every copy pages hold."""
    out = _bare(element)
    out["isDeleted"] = True
    out["version"] = int(element.get("version", 1)) + CLEAR_LEAD
    out["versionNonce"] = nonce
    return out


def z_order(elements: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Elements bottom to top: Excalidraw 0.18 orders by the fractional ``index`` string it keeps on
    each element; an element without one goes last, in the order given."""
    listed = list(elements)
    return sorted(listed, key=lambda e: (0, e["index"]) if isinstance(e.get("index"), str) else (1, ""))
