"""The room-event bus of a deployment: what an action on any node says about a room (deleted,
expired, updated) reaches the node that runs its meeting. The same ``Bus`` as the in-process one
(meetkit/bus.py): published after commit, heard by every node's subscribers, the publisher's own
included (through Redis, so every node hears events in the same order)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from ..bus import InProcessBus, RoomEnded, RoomEvent, RoomUpdated, Subscriber
from .channels import Channels
from .wire import ROOMS, ROOMS_CHANNEL, RoomEndedMessage, RoomUpdatedMessage

log = logging.getLogger("meetkit.cluster")


class RedisBus:
    def __init__(self, channels: Channels) -> None:
        self._channels = channels
        self._local = InProcessBus()  # this node's subscribers
        self._tasks: set[asyncio.Task[None]] = set()
        channels.on(ROOMS_CHANNEL, self._heard)

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        return self._local.subscribe(subscriber)

    async def publish(self, event: RoomEvent) -> None:
        message: RoomEndedMessage | RoomUpdatedMessage
        if isinstance(event, RoomEnded):
            message = RoomEndedMessage(room_id=event.room_id, reason=event.reason)
        else:
            message = RoomUpdatedMessage(room_id=event.room_id)
        await self._channels.publish(ROOMS_CHANNEL, message.model_dump_json())

    def publish_soon(self, event: RoomEvent) -> None:
        task = asyncio.get_running_loop().create_task(self._publish_logged(event), name="bus-publish")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _publish_logged(self, event: RoomEvent) -> None:
        try:
            await self.publish(event)
        except Exception as exc:
            # Redis is down: the running meeting hears of the change when it next reads the room (a
            # deleted or expired room's socket is refused on its next join); logged, not lost silently.
            log.error("a room event could not be sent to the deployment: %s", type(exc).__name__)

    async def _heard(self, data: bytes) -> None:
        message = ROOMS.validate_json(data)
        event: RoomEvent = (RoomEnded(message.room_id, message.reason) if isinstance(message, RoomEndedMessage)
                            else RoomUpdated(message.room_id))
        await self._local.publish(event)
