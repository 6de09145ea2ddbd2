"""A meeting's transcript: caption cues and the two forms it is exported in (WebVTT and JSON). Pure rules.

Cue times are seconds since the session's start. WebVTT follows the W3C spec: timestamps HH:MM:SS.mmm, each
cue's speaker as a voice span (``<v Name>``), text with &, < and > escaped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

MAX_TEXT_LENGTH = 500  # one caption: longer engine output is cut (a runaway hypothesis must not flood pages)
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Cue:
    participant_id: str
    speaker: str
    start: float  # seconds since the session's start
    end: float
    text: str


def clean_text(text: str) -> str:
    """Engine output as a caption: whitespace collapsed, stripped, at most MAX_TEXT_LENGTH characters."""
    text = _SPACES.sub(" ", text).strip()
    if len(text) > MAX_TEXT_LENGTH:
        text = text[:MAX_TEXT_LENGTH].rstrip()
    return text


def timestamp(seconds: float) -> str:
    """WebVTT's HH:MM:SS.mmm (hours may exceed 99); negative times count as 0."""
    ms = max(0, round(seconds * 1000))
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    secs, ms = divmod(ms, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{ms:03d}"


def escape_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def escape_voice(name: str) -> str:
    """A voice span's annotation: escaped like text, on one line (a line break would end the cue)."""
    return escape_text(_SPACES.sub(" ", name).strip()) or "Speaker"


def _ordered(cues: Iterable[Cue]) -> list[Cue]:
    kept = [c for c in cues if clean_text(c.text)]
    return sorted(kept, key=lambda c: (c.start, c.end))  # stable: cues starting together keep their order


def to_webvtt(cues: Iterable[Cue]) -> str:
    lines = ["WEBVTT", ""]
    for cue in _ordered(cues):
        end = max(cue.end, cue.start)
        lines.append(f"{timestamp(cue.start)} --> {timestamp(end)}")
        lines.append(f"<v {escape_voice(cue.speaker)}>{escape_text(clean_text(cue.text))}")
        lines.append("")
    return "\n".join(lines)


def to_json(cues: Iterable[Cue]) -> list[dict[str, str | float]]:
    # Times before 0 (a line begun before a recording's start) are 0, as in WebVTT.
    return [{"speaker": c.speaker, "participant_id": c.participant_id, "start": round(max(0.0, c.start), 3),
             "end": round(max(0.0, c.end, c.start), 3), "text": clean_text(c.text)} for c in _ordered(cues)]
