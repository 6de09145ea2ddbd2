"""Coalesced broadcasts: what changes often reaches everyone at a bounded rate, latest state wins.

A participant's hand, media state and talking, and the lobby as hosts see it, can change as fast as a
browser sends frames. Fanned out one frame per change, one guest's burst becomes a burst in every
member's send queue (issue 10: 10,000 ``hand`` frames closed everyone). Here a change only marks what
is pending; a ``Throttle`` sends the first change at once, then at most one flush per interval, each
flush carrying the latest state of whatever changed meanwhile.

Timers go through the injected clock's ``call_later`` (a test's FakeClock moves them)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ..clock import Clock, Timer
from . import protocol

if TYPE_CHECKING:
    from .participant import Participant
    from .room import Room


class Throttle:
    """Leading edge at once, then at most one ``flush`` per ``interval`` while changes keep coming.
    ``flush`` says whether it sent anything: a flush that sent nothing starts no interval."""

    def __init__(self, clock: Clock, interval: float, flush: Callable[[], bool]) -> None:
        self.clock = clock
        self.interval = interval
        self._flush = flush
        self._timer: Timer | None = None
        self._pending = False

    def poke(self) -> None:
        """Something changed: flush now if the last flush is an interval ago, else at the interval's end."""
        if self._timer is not None:
            self._pending = True
            return
        self._send()

    def _send(self) -> None:
        self._pending = False
        if self._flush():
            self._timer = self.clock.call_later(self.interval, self._cooled)

    def _cooled(self) -> None:
        self._timer = None
        if self._pending:
            self._send()

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = None
        self._pending = False


class ParticipantUpdates:
    """``participant.updated`` (hand, media state) and ``talking`` of a room, coalesced per participant."""

    def __init__(self, room: Room, interval: float) -> None:
        self.room = room
        self._changed: dict[str, Participant] = {}
        self._talking: dict[str, tuple[Participant, bool]] = {}
        self.throttle = Throttle(room.node.c.clock, interval, self._flush)

    def changed(self, m: Participant) -> None:
        self._changed[m.id] = m
        self.throttle.poke()
        # Feeds, mic and camera are what subscriptions are made of: every viewer recomputes (coalesced).
        self.room.subscriptions.changed()

    def talking(self, m: Participant, talking: bool) -> None:
        self._talking[m.id] = (m, talking)
        self.throttle.poke()

    def _flush(self) -> bool:
        changed, self._changed = self._changed, {}
        talking, self._talking = self._talking, {}
        sent = False
        for m in changed.values():
            if m.state == "joined":  # one who left meanwhile is announced by participant.left only
                self.room.broadcast(protocol.ParticipantUpdated(participant=m.view()))
                sent = True
        for m, value in talking.values():
            if m.state == "joined":
                self.room.broadcast(protocol.TalkingOut(participant_id=m.id, talking=value))  # self included
                sent = True
        return sent


class LobbyFeed:
    """What hosts know of the lobby: the whole list when a host joins or resumes, then deltas against
    what hosts were last told, computed at flush time (so a knock and its leave within one interval
    cost hosts nothing)."""

    def __init__(self, room: Room, interval: float) -> None:
        self.room = room
        self._told: dict[str, protocol.Waiting] = {}
        self.throttle = Throttle(room.node.c.clock, interval, self._flush)

    def _now_waiting(self) -> dict[str, protocol.Waiting]:
        return {x.id: protocol.Waiting(participant_id=x.id, name=x.name, since=x.since, reason=x.lobby_reason)
                for x in self.room.waiting()}

    def changed(self) -> None:
        self.throttle.poke()

    def full_list(self, host: Participant) -> None:
        """The whole lobby to one host (who just joined or resumed); deltas after it are upserts and
        removals, so one that overlaps this list changes nothing."""
        waiting = self._now_waiting()
        host.send(protocol.LobbyUpdate(waiting=list(waiting.values()), count=len(waiting)))

    def _flush(self) -> bool:
        now = self._now_waiting()
        added = [w for key, w in now.items() if key not in self._told]
        removed = [key for key in self._told if key not in now]
        self._told = now
        if not (added or removed):
            return False
        self.room.tell_hosts(protocol.LobbyUpdate(added=added, removed=removed, count=len(now)))
        return True
