"""Rules for rooms: types, defaults, expiry windows, meeting codes, languages."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

MAX_LONG_TERM = timedelta(days=365)
MIN_LONG_TERM_AHEAD = timedelta(minutes=10)


class RoomType(StrEnum):
    INSTANT = "instant"
    LONG_TERM = "long_term"


class JoinApprovalLevel(StrEnum):
    NONE = "none"
    AFTER_OWNER_ONLY = "after_owner_only"
    EXPLICIT_APPROVAL = "explicit_approval"


class MicrophoneState(StrEnum):
    DEFAULT = "default"
    ON = "on"
    OFF = "off"


LANGUAGES = ("ar", "ca", "de", "en", "es", "fr", "he", "it", "pt-br", "zh-tw", "zh-cn")
_LANGUAGE_ALIASES = {"pt": "pt-br", "pt_br": "pt-br", "zh_tw": "zh-tw", "zh_cn": "zh-cn"}

DEFAULT_RECORDING_OPTIONS: dict[str, Any] = {"auto_record": False, "record_only_owner": False}
DEFAULT_INITIAL_JOIN_OPTIONS: dict[str, Any] = {"microphone_state": MicrophoneState.DEFAULT.value}
DEFAULT_CALLBACK_URLS: dict[str, Any] = {
    "rooms_callback_url": None,
    "sessions_callback_url": None,
    "recordings_callback_url": None,
}
DEFAULT_AVAILABLE_FEATURES: dict[str, Any] = {
    "is_recording_available": True,
    "is_chat_available": True,
    "is_whiteboard_available": True,
    "is_locale_switcher_available": True,
    "is_captions_available": False,
}
DEFAULT_UI_SETTINGS: dict[str, Any] = {"language": "en"}


class RoomRuleError(ValueError):
    pass


def normalize_language(value: str) -> str:
    lang = value.strip().lower()
    if lang == "default":
        return lang  # kept: the meeting page follows each browser's language (a room left without one is "en")
    lang = _LANGUAGE_ALIASES.get(lang, lang)
    if lang not in LANGUAGES:
        raise RoomRuleError(f"language must be one of {', '.join(LANGUAGES)} (any case), default or pt")
    return lang


def check_long_term_expiry(expires_at: datetime, now: datetime) -> None:
    if expires_at <= now + MIN_LONG_TERM_AHEAD:
        raise RoomRuleError("expires_at must be more than 10 minutes in the future")
    if expires_at > now + MAX_LONG_TERM:
        raise RoomRuleError("expires_at must be at most one year in the future")


def instant_expiry(created_at: datetime, join_window_seconds: int) -> datetime:
    """An instant room nobody joins expires after the join window (10 minutes by default)."""
    return created_at + timedelta(seconds=join_window_seconds)


def new_meeting_code() -> str:
    """Nine digits, never starting with 0 (codes are read aloud and typed)."""
    return str(100_000_000 + secrets.randbelow(900_000_000))


def new_host_token() -> str:
    return secrets.token_urlsafe(32)


def merge_options(current: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Partial update of a nested options object: given keys replace, others stay."""
    merged = dict(current)
    merged.update(update)
    return merged


@dataclass(frozen=True)
class MeetingLinks:
    guest_url: str
    host_url: str


def meeting_links(public_url: str, meeting_code: str, host_token: str, short_company_url: str | None) -> MeetingLinks:
    base = f"{public_url}/{short_company_url}" if short_company_url else public_url
    guest = f"{base}/{meeting_code}"
    return MeetingLinks(guest_url=guest, host_url=f"{guest}?participant_token={host_token}")
