"""Who enters a meeting at once, who waits in the lobby and why, and the room's limits. Pure rules:
the signalling layer asks them under the room's lock and acts on the answer."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from typing import Literal

from .rooms import JoinApprovalLevel

LobbyReason = Literal["approval", "host_absent", "removed_before"]
Refusal = Literal["host_denied", "locked", "full", "ended", "lobby_full"]


def refusal_on_arrival(*, is_host: bool, locked: bool) -> Refusal | None:
    """A locked room refuses new guests; a host always gets in."""
    return "locked" if locked and not is_host else None


def lobby_reason(*, is_host: bool, approval: str, host_present: bool,
                 removed_before: bool = False) -> LobbyReason | None:
    """Why a newcomer waits in the lobby, or None when they enter at once (see docs/signalling.md,
    "Waiting room"). A guest whose browser was removed earlier in the session waits for a host's
    decision whatever the room's approval level."""
    if is_host:
        return None
    if removed_before:
        return "removed_before"
    if approval == JoinApprovalLevel.EXPLICIT_APPROVAL:
        return "approval"
    if approval == JoinApprovalLevel.AFTER_OWNER_ONLY and not host_present:
        return "host_absent"
    return None


def released_by_host(reason: LobbyReason) -> bool:
    """Whether a host's arrival lets this waiting participant in without an admission."""
    return reason == "host_absent"


def room_is_full(joined: int, max_participants: int) -> bool:
    return joined >= max_participants


def lobby_is_full(*, waiting: int, joined: int, max_participants: int, max_lobby: int | None) -> bool:
    """Whether the next knock is refused (``lobby_full``): by default no more people wait than the room
    has free places, so a flood of knocks cannot grow the lobby (and every host's list) without bound."""
    cap = max(0, max_participants - joined) if max_lobby is None else max_lobby
    return waiting >= cap


def video_places(*, video_kinds: Iterable[str], camera_on: bool) -> int:
    """The video-sender places one participant holds: a screen while it is sent; the camera while its
    publisher sends video and the camera is on. A camera turned off keeps its video sender in the
    connection (so turning it on again is instant) but frees its place for somebody else."""
    return sum(1 for kind in set(video_kinds) if kind != "camera" or camera_on)


def holds_video_place(kind: str, *, video_kinds: Iterable[str], camera_on: bool) -> bool:
    """Whether this publisher ``kind`` already counts among the video senders."""
    return kind in set(video_kinds) and (kind != "camera" or camera_on)


def may_send_video(*, video_senders: int, max_video_senders: int, already_sending: bool = False) -> bool:
    """A participant already holding a video-sender place keeps it; a new one needs a free place."""
    return already_sending or video_senders < max_video_senders


def resume_digest(token: str) -> str:
    """What is stored of a resume token: its SHA-256. The token is 24 random bytes, so no secret or
    salt is needed to keep it from being guessed back."""
    return hashlib.sha256(token.encode()).hexdigest()


def resume_matches(digest: str | None, token: str) -> bool:
    return digest is not None and hmac.compare_digest(digest, resume_digest(token))
