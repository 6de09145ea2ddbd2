"""Flow control on the meeting socket: what one socket may send, and how many sockets one address may hold.

Every frame a browser sends belongs to a class (chat, state changes, media signalling, host controls,
whiteboard, ping, and ``other`` for frames that are no valid message); each class has its own token bucket per
socket (``domain/ratelimit.py``). A frame over its class's limit is answered ``error`` code
``rate_limited`` and not acted on; each such frame is a strike, and more strikes than
``socket_abuse_strikes`` within ``socket_abuse_window`` close that socket (4429). Nothing here ever
touches another participant's socket: the sender alone pays for what it sends.

Buckets run on ``time.monotonic()``: they measure real traffic, and a wall-clock jump must not
starve (or free) a socket."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from ..config import Settings
from ..domain.ratelimit import TokenBucket
from . import protocol

LimitClass = protocol.LimitClass

# Client message type → its class. ``hello`` and ``leave`` are not here: a second hello is ``other``
# (it is refused anyway), and ``leave`` ends the socket.
_CLASSES: dict[str, LimitClass] = {
    "chat.send": "chat",
    "hand": "state", "name.set": "state", "media.state": "state", "talking": "state",
    "media.publish": "media", "media.unpublish": "media", "media.view": "media", "media.answer": "media",
    "media.ice_restart": "media", "media.candidate": "media",
    "board.update": "board", "board.get": "board",
    "watch.start": "state", "watch.control": "state", "watch.hand_over": "state", "watch.stop": "state",
    "watch.get": "state",
    "ping": "ping",
}


def class_of(message_type: str | None) -> LimitClass | None:
    """The class of a parsed message's type (None: not limited); None as the type means no valid message."""
    if message_type is None or message_type == "hello":
        return "other"
    if message_type == "leave":
        return None
    if message_type.startswith("host."):
        return "host"
    return _CLASSES.get(message_type, "other")


@dataclass(frozen=True)
class FlowLimits:
    """The per-socket limits, read once from the settings: (rate per second, burst) per class."""
    rates: dict[LimitClass, tuple[float, int]]
    strikes: int
    strike_window: float

    @classmethod
    def of(cls, s: Settings) -> FlowLimits:
        return cls(rates={
            "chat": (s.socket_chat_rate, s.socket_chat_burst),
            "state": (s.socket_state_rate, s.socket_state_burst),
            "media": (s.socket_media_rate, s.socket_media_burst),
            "host": (s.socket_host_rate, s.socket_host_burst),
            "board": (s.socket_board_rate, s.socket_board_burst),
            "ping": (s.socket_ping_rate, s.socket_ping_burst),
            "other": (s.socket_other_rate, s.socket_other_burst),
        }, strikes=s.socket_abuse_strikes, strike_window=s.socket_abuse_window)


Verdict = Literal["ok", "limited", "abusive"]


class SocketFlow:
    """One socket's buckets (made on first use) and its strike bucket."""

    def __init__(self, limits: FlowLimits, now: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._now = now
        self._buckets: dict[LimitClass, TokenBucket] = {}
        self._strikes = TokenBucket(rate=limits.strikes / limits.strike_window, burst=limits.strikes,
                                    updated=now())
        self.limited = 0  # frames refused on this socket (for tests and logs)

    def check(self, kind: LimitClass) -> Verdict:
        now = self._now()
        bucket = self._buckets.get(kind)
        if bucket is None:
            rate, burst = self.limits.rates[kind]
            bucket = self._buckets[kind] = TokenBucket(rate=rate, burst=burst, updated=now)
        if bucket.take(now):
            return "ok"
        self.limited += 1
        return "limited" if self._strikes.take(now) else "abusive"

    def refusal(self, kind: LimitClass) -> protocol.Error:
        """The ``error`` a refused frame of ``kind`` is answered with."""
        bucket = self._buckets[kind]
        retry_ms = max(1, int(bucket.retry_after(self._now()) * 1000 + 0.999))
        return protocol.Error(code="rate_limited", message=f"too many {kind} messages; slow down",
                              limit=kind, retry_after_ms=retry_ms)


class AddressSockets:
    """How many meeting sockets each client address holds right now; ``claim`` refuses past the cap.
    Only addresses with an open socket are remembered, so the map is bounded by the open sockets."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self._open: dict[str, int] = {}

    def claim(self, address: str) -> bool:
        held = self._open.get(address, 0)
        if held >= self.cap:
            return False
        self._open[address] = held + 1
        return True

    def release(self, address: str) -> None:
        held = self._open.get(address, 0) - 1
        if held > 0:
            self._open[address] = held
        else:
            self._open.pop(address, None)

    def held(self, address: str) -> int:
        return self._open.get(address, 0)

    def total(self) -> int:
        """The sockets open now, from every address."""
        return sum(self._open.values())
