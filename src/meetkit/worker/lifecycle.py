"""The lifecycle worker: acts on room timers that are due. The timers themselves are rows (the rooms'
``expiry_due_at``); this loop only looks at them now and then, so nothing is lost across a restart."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from ..actions.lifecycle import do_delete_retained_rooms, do_expire_due_rooms
from ..container import Container
from .passes import run_passes

log = logging.getLogger("meetkit.lifecycle")


class LifecycleWorker:
    def __init__(self, c: Container, on_expired: Callable[[str], Awaitable[object]] | None = None) -> None:
        self._c = c
        self._on_expired = on_expired  # ends a meeting still running in an expired room

    async def tick(self) -> int:
        """One pass: expire what is due, delete what is past retention. Returns how many rooms changed."""
        changed = 0
        while expired := await do_expire_due_rooms(self._c):
            changed += len(expired)
            log.info("expired %d room(s)", len(expired))
            if self._on_expired is not None:
                for room_id in expired:
                    try:
                        await self._on_expired(room_id)
                    except Exception as exc:
                        log.error("ending the meeting of an expired room failed: %s", type(exc).__name__)
        while deleted := await do_delete_retained_rooms(self._c):
            changed += len(deleted)
            log.info("deleted %d expired room(s) past retention", len(deleted))
        return changed

    async def run(self) -> None:
        """Until cancelled; a failed pass is logged and the next one tries again."""
        await run_passes(self.tick, self._c.settings.lifecycle_poll_interval, log, "lifecycle")
