"""Redis pub/sub between the nodes of a deployment: one subscription per node, handlers by channel.

Pub/sub keeps the order of one publisher's messages, which is what a relayed socket needs, and loses
what is said while a subscriber is disconnected: nothing durable travels here (the database is the
truth), and a link that misses a frame is closed by its watcher and resumed by the browser. The
reader reconnects with backoff when Redis goes away."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, cast

from redis.asyncio import Redis

log = logging.getLogger("meetkit.cluster")

Handler = Callable[[bytes], Awaitable[None]]


class Channels:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._handlers: dict[str, Handler] = {}
        self._reader: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        self._reconnected: list[Callable[[], None]] = []

    def on(self, channel: str, handler: Handler) -> None:
        """``handler`` gets each message of ``channel`` (set before ``start``)."""
        self._handlers[channel] = handler

    def on_reconnect(self, callback: Callable[[], None]) -> None:
        """``callback`` runs each time the subscription is made again after Redis went away: what
        was said meanwhile is lost."""
        self._reconnected.append(callback)

    async def publish(self, channel: str, data: str) -> None:
        await self.redis.publish(channel, data)

    async def start(self) -> None:
        self._reader = asyncio.create_task(self._read(), name="redis-channels")
        try:
            await asyncio.wait_for(self._subscribed.wait(), 10)
        except TimeoutError:
            log.warning("not subscribed to the deployment's channels yet; still trying")

    async def stop(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)

    async def _read(self) -> None:
        delay = 0.1
        while True:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(*self._handlers)
                if self._subscribed.is_set():
                    for callback in self._reconnected:
                        callback()
                self._subscribed.set()
                delay = 0.1
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is None:
                        continue
                    handler = self._handlers.get(_text(message["channel"]))
                    if handler is not None:
                        try:
                            await handler(message["data"])
                        except Exception as exc:  # the type only: a frame may carry chat text
                            log.error("a message on the deployment's channels failed: %s", type(exc).__name__)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("the deployment's channels lost Redis (%s); reconnecting", type(exc).__name__)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
            finally:
                with contextlib.suppress(Exception):  # the connection is gone already
                    # Any: redis-py before 8 leaves aclose untyped, 8 types it; both pass strict mypy.
                    await cast(Any, pubsub).aclose()


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw
