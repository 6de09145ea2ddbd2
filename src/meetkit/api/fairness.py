"""Fair shares of one server between applications. Each application has a budget of ``capacity``
units of work in progress (a plain request costs 1, a listing more, by its page size) and at most
``max_waiting`` requests queued behind it, first come first served. One tenant firing hundreds of
1,000-room listings at once then waits in its own queue, and the event loop and the database serve
every other tenant's requests in between: the loop is shared by time slices, so what keeps others
fast is how much of one tenant's work is in progress at once, not how much is queued.

A request past the queue gets 429 ``TooManyRequestsError`` with ``Retry-After``."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from starlette.exceptions import HTTPException


@dataclass
class _Share:
    in_progress: int = 0  # units
    waiting: deque[tuple[int, asyncio.Future[None]]] = field(default_factory=deque)


class TenantGate:
    def __init__(self, capacity: int, max_waiting: int) -> None:
        if capacity < 1 or max_waiting < 0:
            raise ValueError("a tenant gate needs capacity >= 1 and max_waiting >= 0")
        self.capacity, self.max_waiting = capacity, max_waiting
        self._shares: dict[str, _Share] = {}

    @asynccontextmanager
    async def slot(self, tenant: str, cost: int = 1) -> AsyncIterator[None]:
        cost = max(1, min(cost, self.capacity))  # the most expensive request still fits alone
        share = self._shares.setdefault(tenant, _Share())
        if share.waiting or share.in_progress + cost > self.capacity:
            if len(share.waiting) >= self.max_waiting:
                self._forget_if_idle(tenant, share)
                raise HTTPException(429, "too many requests of this application at once; retry shortly",
                                    headers={"Retry-After": "1"})
            turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            share.waiting.append((cost, turn))
            try:
                await turn  # granted by _admit, which counted the cost in already
            except asyncio.CancelledError:
                if turn.done() and not turn.cancelled():
                    self._release(tenant, share, cost)  # granted just as the caller went away
                else:
                    # Still queued, or already dropped by _admit (the future is cancelled at once,
                    # the task wakes only later): either way the turn is gone and counted nowhere.
                    with contextlib.suppress(ValueError):
                        share.waiting.remove((cost, turn))
                    self._admit(share)  # a big request that left may unblock smaller ones behind it
                    self._forget_if_idle(tenant, share)
                raise
        else:
            share.in_progress += cost
        try:
            yield
        finally:
            self._release(tenant, share, cost)

    def _release(self, tenant: str, share: _Share, cost: int) -> None:
        share.in_progress -= cost
        self._admit(share)
        self._forget_if_idle(tenant, share)

    def _admit(self, share: _Share) -> None:
        """First come first served: the head of the queue goes in when it fits; nobody overtakes it."""
        while share.waiting:
            cost, turn = share.waiting[0]
            if turn.done():  # its caller was cancelled and has not woken yet: never counted, skip it
                share.waiting.popleft()
                continue
            if share.in_progress + cost > self.capacity:
                return
            share.waiting.popleft()
            share.in_progress += cost
            turn.set_result(None)

    def _forget_if_idle(self, tenant: str, share: _Share) -> None:
        if share.in_progress == 0 and not share.waiting:
            self._shares.pop(tenant, None)

    def in_progress(self, tenant: str) -> int:
        share = self._shares.get(tenant)
        return share.in_progress if share else 0
