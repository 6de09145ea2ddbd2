"""Which live meetings this node owns (issue 12, docs/scale-out.md).

``SoleOwnership``: single-process mode, the node owns every room and nothing is fenced.
``LeasedOwnership``: a member of a deployment (``MEETKIT_REDIS_URL``). A room's meeting is served
by the node holding its lease (cluster/leases.py); the holder raises the room's fencing epoch in the
database before its first write (storage/fences.py), renews all its leases together every third of
their lifetime, and gives a room up when its lease is lost (``on_lost``). While Redis is unreachable
the leases are kept: nobody else can take them either, and the database still fences every write.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..clock import Clock
from ..storage import fences
from ..storage.fences import Fence
from .leases import Lease, RoomLeases

log = logging.getLogger("meetkit.cluster")

LostCallback = Callable[[str], Awaitable[None]]


def new_node_id() -> str:
    """Unique per process: a restarted node is a new owner, never mistaken for the old one."""
    return f"{socket.gethostname()}-{secrets.token_hex(4)}"


class ClaimDeferred(Exception):
    """Redis came back moments ago: the room's owner may not have re-asserted its lease yet, so it is
    not claimed now (the socket closes 4503 and its browser comes back in a moment)."""


class Ownership(Protocol):
    node_id: str

    async def claim(self, room_id: str, floor: int) -> Fence | None:
        """The fence of this node's ownership of the room's meeting; None: another node owns it.
        ``floor``: the epoch the database holds for the room."""
        ...

    def release_soon(self, room_id: str) -> None:
        """The room emptied here: its lease goes, unless it is claimed again first."""
        ...

    async def owner_elsewhere(self, room_id: str) -> str | None:
        """The node that owns the room's meeting, if it is another node."""
        ...

    def on_lost(self, callback: LostCallback) -> None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class SoleOwnership:
    def __init__(self) -> None:
        self.node_id = new_node_id()

    async def claim(self, room_id: str, floor: int) -> Fence | None:
        return Fence(room_id, None)

    def release_soon(self, room_id: str) -> None:
        pass

    async def owner_elsewhere(self, room_id: str) -> str | None:
        return None

    def on_lost(self, callback: LostCallback) -> None:
        pass

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass


class LeasedOwnership:
    def __init__(self, leases: RoomLeases, sessions: async_sessionmaker[AsyncSession], clock: Clock,
                 node_id: str | None = None) -> None:
        self.leases = leases
        self.node_id = node_id or new_node_id()
        self._sessions = sessions
        self._clock = clock
        self._held: dict[str, Lease] = {}
        self._claims: dict[str, asyncio.Task[Fence | None]] = {}
        self._releasing: set[str] = set()
        self._lost: list[LostCallback] = []
        self._keeper: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._deferred_until = 0.0  # time.monotonic(): no claims of rooms owned before, until then

    @property
    def held(self) -> dict[str, Lease]:
        return dict(self._held)

    def on_lost(self, callback: LostCallback) -> None:
        self._lost.append(callback)

    def redis_came_back(self) -> None:
        """Redis restarted (it may have lost every lease): ours are re-asserted at once, and rooms
        another node owned are not claimed until that node has had time to re-assert its own: a lease
        period and the channels' longest reconnect backoff (channels.py)."""
        self._deferred_until = time.monotonic() + self.leases.ttl_ms / 1000 + 2.5
        task = asyncio.create_task(self.renew_all(), name="lease-reassert")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def claim(self, room_id: str, floor: int) -> Fence | None:
        held = self._held.get(room_id)
        if held is not None:
            self._releasing.discard(room_id)  # claimed again before its release ran: it stays
            return Fence(room_id, held.epoch)
        if floor > 0 and time.monotonic() < self._deferred_until:
            raise ClaimDeferred(room_id)
        # Joins of one room arriving together on this node share one claim.
        task = self._claims.get(room_id)
        if task is None:
            task = self._claims[room_id] = asyncio.create_task(self._claim(room_id, floor))
            task.add_done_callback(lambda _t: self._claims.pop(room_id, None))
        return await asyncio.shield(task)

    async def _claim(self, room_id: str, floor: int) -> Fence | None:
        for _ in range(50):
            won, lease = await self.leases.acquire(room_id, self.node_id, floor)
            if not won:
                if lease.node != self.node_id:
                    return None
                # Ours but not held: our own release of it is under way, or a previous run of this node
                # (restarted with the same MEETKIT_NODE_ID) left it. Either way it goes, and we ask again.
                await self.leases.release(lease)
                await asyncio.sleep(0.02)
                continue
            async with self._sessions.begin() as db:
                taken = await fences.take_over(db, room_id, lease.epoch)
            if taken:
                self._held[room_id] = lease
                return Fence(room_id, lease.epoch)
            # Redis handed out an epoch the database has already seen (it lost its count): ask again
            # above the stored one.
            await self.leases.release(lease)
            async with self._sessions() as db:
                floor = await fences.stored_epoch(db, room_id)
        raise RuntimeError(f"no lease for room {room_id}")

    async def owner_elsewhere(self, room_id: str) -> str | None:
        if room_id in self._held:
            return None
        lease = await self.leases.owner(room_id)
        return lease.node if lease is not None and lease.node != self.node_id else None

    def release_soon(self, room_id: str) -> None:
        if room_id not in self._held:
            return
        self._releasing.add(room_id)
        task = asyncio.create_task(self._release(room_id), name="lease-release")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _release(self, room_id: str) -> None:
        await asyncio.sleep(0)  # a join already waiting for the room claims it again first
        if room_id not in self._releasing:
            return
        self._releasing.discard(room_id)
        lease = self._held.pop(room_id, None)
        if lease is not None:
            try:
                await self.leases.release(lease)
            except Exception as exc:  # it runs out by itself
                log.warning("the lease of a room could not be released: %s", type(exc).__name__)

    # -- keeping the leases -------------------------------------------------------------------------

    async def start(self) -> None:
        self._keeper = asyncio.create_task(self._keep(), name="lease-keeper")

    async def stop(self) -> None:
        if self._keeper is not None:
            self._keeper.cancel()
            await asyncio.gather(self._keeper, return_exceptions=True)
        for lease in list(self._held.values()):  # the next owner need not wait for them to run out
            try:
                await asyncio.wait_for(self.leases.release(lease), 1.0)
            except Exception:
                break
        self._held.clear()

    async def _keep(self) -> None:
        period = self.leases.ttl_ms / 3000
        while True:
            await self._clock.sleep(period)
            await self.renew_all()

    async def renew_all(self) -> list[str]:
        """Renews every lease; returns the rooms whose lease was lost (their callbacks have run)."""
        leases = list(self._held.values())
        try:
            kept = await self.leases.renew(leases)
        except Exception as exc:
            log.warning("room leases could not be renewed (kept until Redis answers): %s", type(exc).__name__)
            return []
        lost = [lease.room_id for lease, ok in zip(leases, kept, strict=True)
                if not ok and self._held.get(lease.room_id) == lease]
        for room_id in lost:
            del self._held[room_id]
            log.warning("the lease of room %s was lost: another node owns its meeting now", room_id)
            for callback in self._lost:
                try:
                    await callback(room_id)
                except Exception as exc:
                    log.error("giving up room %s failed: %s", room_id, type(exc).__name__)
        return lost
