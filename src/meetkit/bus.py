"""The bus: how the rest of a deployment tells the meetings that a room changed.

Actions publish *after their transaction commits* (Zulip's ``send_event_on_commit``): a route or a
worker never calls the meetings directly, and nothing is announced for a change that rolled back.
The in-process bus hands each event to the subscribers of this process; the Redis bus of a
deployment on several machines (issue 12) implements the same ``Bus``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from .storage.on_commit import on_commit

log = logging.getLogger("meetkit.bus")


@dataclass(frozen=True)
class RoomEnded:
    """The room stopped being available (expired or deleted): a meeting running in it ends."""

    room_id: str
    reason: Literal["expired", "deleted"]


@dataclass(frozen=True)
class RoomUpdated:
    """The room's stored options changed (approval level, features, recording options, theme)."""

    room_id: str


RoomEvent = RoomEnded | RoomUpdated
Subscriber = Callable[[RoomEvent], Awaitable[None]]


class Bus(Protocol):
    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Registers ``subscriber``; the returned function unregisters it."""
        ...

    async def publish(self, event: RoomEvent) -> None:
        """Delivers ``event`` to every subscriber; returns when they have handled it."""
        ...

    def publish_soon(self, event: RoomEvent) -> None:
        """Delivers ``event`` from a task the bus owns (from synchronous code such as a commit hook)."""
        ...


class InProcessBus:
    """The bus of one process. A failing subscriber is logged and does not keep the others from
    hearing the event."""

    def __init__(self) -> None:
        self._subscribers: dict[int, Subscriber] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        key = id(subscriber)
        self._subscribers[key] = subscriber

        def unsubscribe() -> None:
            self._subscribers.pop(key, None)

        return unsubscribe

    async def publish(self, event: RoomEvent) -> None:
        for subscriber in list(self._subscribers.values()):
            try:
                await subscriber(event)
            except Exception as exc:  # the type only: the event's subject is not the log's business
                log.error("a subscriber failed on %s: %s", type(event).__name__, type(exc).__name__)

    def publish_soon(self, event: RoomEvent) -> None:
        task = asyncio.get_running_loop().create_task(self.publish(event), name="bus-publish")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Waits for the events handed over with ``publish_soon`` (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


def publish_on_commit(db: AsyncSession, bus: Bus, event: RoomEvent) -> None:
    """Publishes ``event`` once ``db``'s transaction commits; forgotten if it rolls back."""
    on_commit(db, lambda: bus.publish_soon(event))
