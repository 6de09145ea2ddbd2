"""The chat of a session as lines of text, for the host's export.

One message is one line, ``[2026-01-30 15:00:07 UTC] [guest] Gus: hello``, and nothing a participant
typed can start another: newlines, other controls and bidi overrides in names and text are written
as escapes (``\\n``, ``\\u202e``), a backslash as ``\\\\``. The role comes before the name, in a place
no name can reach, so a guest named "Host" reads ``[guest] Host``."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

_NAMED = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_JOINERS = frozenset({"\u200c", "\u200d"})  # ZWNJ, ZWJ: part of words and emoji, they move nothing


@dataclass(frozen=True)
class ExportedMessage:
    sent_at: datetime
    role: str
    name: str
    text: str


def escape(value: str) -> str:
    """``value`` on one line, every character that could break or reorder the line escaped."""
    out: list[str] = []
    for ch in value:
        if ch in _NAMED:
            out.append(_NAMED[ch])
        elif ch not in _JOINERS and unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp"):
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return "".join(out)


def _when(at: datetime) -> str:
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)  # stored naive in UTC
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def export_text(messages: Iterable[ExportedMessage]) -> str:
    """Every message as one line, each ending in a newline."""
    return "".join(f"[{_when(m.sent_at)}] [{m.role}] {escape(m.name)}: {escape(m.text)}\n" for m in messages)
