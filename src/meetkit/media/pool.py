"""A pool of Janus servers (``MEETKIT_JANUS_URLS``): one :class:`MediaServer` per Janus, each kept
connected on its own. Which one a new meeting goes to is domain/placement.py and actions/media_servers.py;
what moves when one is lost is signalling/rooms.py.

A Janus that cannot be reached at start-up does not stop the node: it is tried again every few
seconds, and joins the pool once it answers."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable

from ..clock import Clock, SystemClock
from ..domain.placement import JanusEntry, JanusLoad
from .videoroom import MediaServer

log = logging.getLogger("meetkit.media.pool")

RETRY_SECONDS = 2.0  # a Janus not reached at start-up is tried again this often
LOAD_SECONDS = 2.0  # a Janus that does not say its load within this is left out of a placement


class MediaPool:
    def __init__(self, entries: list[JanusEntry], *, admin_key: str | None, api_secret: str | None,
                 clock: Clock | None = None) -> None:
        self._clock = clock or SystemClock()
        self.servers: dict[str, MediaServer] = {
            e.name: MediaServer(e.url, admin_key=admin_key, api_secret=api_secret, clock=self._clock)
            for e in entries}
        self._retries: list[asyncio.Task[None]] = []

    @property
    def connected(self) -> bool:
        """A Janus of the pool is reachable (``/readyz``)."""
        return any(s.connected for s in self.servers.values())

    def on_lost(self, callback: Callable[[MediaServer], None]) -> None:
        """``callback(server)`` each time a Janus of the pool is lost."""
        for server in self.servers.values():
            server.on_lost(functools.partial(callback, server))

    def on_restart(self, callback: Callable[[MediaServer], Awaitable[None]]) -> None:
        """``await callback(server)`` each time a Janus of the pool is back (its rooms re-created)."""
        for server in self.servers.values():
            server.on_restart(functools.partial(callback, server))

    async def start(self) -> None:
        for name, server in self.servers.items():
            try:
                await server.start()
                log.info("media pool: %s connected", name)
            except Exception as exc:
                log.warning("media pool: %s not reachable (%s); trying again every %.0f s",
                            name, type(exc).__name__, RETRY_SECONDS)
                self._retries.append(asyncio.create_task(self._keep_trying(name, server), name=f"janus {name}"))

    async def connect_once(self, time_limit: float) -> None:
        """Connect to each Janus that answers within ``time_limit``, and no more tries (the CLI)."""
        async def one(server: MediaServer) -> None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.start(), time_limit)
        await asyncio.gather(*(one(s) for s in self.servers.values()))

    async def _keep_trying(self, name: str, server: MediaServer) -> None:
        while True:
            await self._clock.sleep(RETRY_SECONDS)
            try:
                await server.start()
            except Exception as exc:
                log.debug("media pool: %s still not reachable (%s)", name, type(exc).__name__)
                continue
            log.info("media pool: %s connected", name)
            return

    async def stop(self) -> None:
        for task in self._retries:
            task.cancel()
        for task in self._retries:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for server in self.servers.values():
            await server.stop()

    async def loads(self) -> list[JanusLoad]:
        """The load of each reachable Janus, asked of all at once."""
        names = [n for n, s in self.servers.items() if s.connected]
        answers = await asyncio.gather(*(self._load(n) for n in names), return_exceptions=True)
        return [a for a in answers if isinstance(a, JanusLoad)]

    async def _load(self, name: str) -> JanusLoad:
        server = self.servers[name]
        sizes = await asyncio.wait_for(server.room_sizes(), LOAD_SECONDS)
        return JanusLoad.of(name, sizes, server.recent_joins())
