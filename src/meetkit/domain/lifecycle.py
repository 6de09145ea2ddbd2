"""When a room stops being available: the rules of the room lifecycle, as pure functions.

- An instant room nobody joins expires ``join_window`` after it was created.
- An instant room expires ``idle_window`` after its last session ended (a new session cancels that).
- A long-term room expires at ``expires_at``; with ``expire_after_use`` also ``idle_window`` after a
  session ends, whichever comes first.
- While a session is running, no idle expiry applies (a long-term room's hard ``expires_at`` still does).
The storage layer turns the answer into a durable scheduled task; these functions only decide the time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from .rooms import RoomType


@dataclass(frozen=True)
class Windows:
    join_window: timedelta = timedelta(minutes=10)
    idle_window: timedelta = timedelta(minutes=10)


@dataclass(frozen=True)
class RoomState:
    type: RoomType
    created_at: datetime
    expires_at: datetime  # a long-term room's hard limit; ignored for instant rooms
    expire_after_use: bool
    ever_joined: bool
    session_running: bool
    last_session_ended_at: datetime | None


def expiry_time(room: RoomState, windows: Windows = Windows()) -> datetime | None:
    """When the room expires given what is known now; None while nothing can expire it (an instant
    room with a session running)."""
    if room.type is RoomType.LONG_TERM:
        if room.expire_after_use and not room.session_running and room.last_session_ended_at is not None:
            return min(room.expires_at, room.last_session_ended_at + windows.idle_window)
        return room.expires_at
    if room.session_running:
        return None
    if room.last_session_ended_at is not None:
        return room.last_session_ended_at + windows.idle_window
    if not room.ever_joined:
        return room.created_at + windows.join_window
    return None


def is_expired(room: RoomState, now: datetime, windows: Windows = Windows()) -> bool:
    when = expiry_time(room, windows)
    return when is not None and now >= when
