"""Watch together's rules: what may be shared, and where the video is at any moment.

The shared video's state is a timeline stamped with the server's clock: ``position`` seconds at the
server time ``at``, moving at normal speed while ``playing``. Every page computes the same "now" from it with its
own estimate of the server's clock, so followers stay together without a stream of updates, and a
late joiner starts at the right place. Only a change (play, pause, seek, a new controller) is sent."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

SourceKind = Literal["url", "file", "youtube"]
MAX_URL = 2048
MAX_POSITION = 24 * 3600.0  # a day: longer than any film; beyond it a position is a mistake
_YOUTUBE_ID = re.compile(r"^[A-Za-z0-9_-]{11}$")
_YOUTUBE_HOSTS = {"youtube.com", "www.youtube.com", "m.youtube.com", "music.youtube.com", "youtube-nocookie.com",
                  "www.youtube-nocookie.com"}
FILE_TYPES = frozenset({"video/mp4", "video/webm", "video/ogg"})


class WatchError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Source:
    kind: SourceKind
    url: str | None = None  # kind url: the video's HTTPS address
    file_id: str | None = None  # kind file: a video uploaded to meetkit's object store
    video_id: str | None = None  # kind youtube


def youtube_id(url: str) -> str | None:
    """The video id of a YouTube watch, short or embed link, else None."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme != "https":
        return None
    if host == "youtu.be":
        candidate = parts.path.lstrip("/").split("/")[0]
    elif host in _YOUTUBE_HOSTS:
        if parts.path == "/watch":
            candidate = (parse_qs(parts.query).get("v") or [""])[0]
        elif parts.path.startswith(("/embed/", "/shorts/", "/live/")):
            candidate = parts.path.split("/")[2]
        else:
            return None
    else:
        return None
    return candidate if _YOUTUBE_ID.match(candidate) else None


def source_of_url(url: str) -> Source:
    """A link the host pasted: YouTube, or a video file over HTTPS (MP4, WebM ... what the browsers play)."""
    url = url.strip()
    if not url or len(url) > MAX_URL or any(c.isspace() or ord(c) < 0x20 for c in url):
        raise WatchError("bad_message", f"a video link is 1 to {MAX_URL} characters without spaces")
    video = youtube_id(url)
    if video is not None:
        return Source(kind="youtube", video_id=video)
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname or parts.username or parts.password:
        raise WatchError("bad_source", "a video link must be an https:// address (or a YouTube link)")
    return Source(kind="url", url=url)


@dataclass(frozen=True)
class Timeline:
    """Where the shared video is: ``position`` seconds at server time ``at``, moving while ``playing``."""

    source: Source
    sharer: str  # who shared it: it ends when they stop or leave
    controller: str  # who plays, pauses and seeks (the sharer, or whom they handed control to)
    playing: bool
    position: float
    at: datetime

    def position_at(self, now: datetime) -> float:
        if not self.playing:
            return self.position
        return min(MAX_POSITION, self.position + max(0.0, (now - self.at).total_seconds()))

    def controlled(self, now: datetime, *, playing: bool, position: float | None) -> Timeline:
        """Play, pause or seek (``position`` None: from where it is now)."""
        where = self.position_at(now) if position is None else position
        if not 0 <= where <= MAX_POSITION:
            raise WatchError("bad_message", f"a position is 0 to {MAX_POSITION:.0f} seconds")
        return replace(self, playing=playing, position=where, at=now)

    def handed_to(self, participant_id: str) -> Timeline:
        return replace(self, controller=participant_id)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["at"] = self.at.isoformat()
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Timeline:
        return cls(source=Source(**data["source"]), sharer=data["sharer"], controller=data["controller"],
                   playing=bool(data["playing"]), position=float(data["position"]),
                   at=datetime.fromisoformat(data["at"]))
