"""The lifecycle worker: acts on room timers that are due. The timers themselves are rows (the rooms'
``expiry_due_at``); this loop only looks at them now and then, so nothing is lost across a restart. A
meeting still running in an expired room hears of it on the bus (``do_expire_due_rooms`` publishes).
Each pass also sweeps logo uploads that were never finalized (their rows say when they came)."""

from __future__ import annotations

import logging

from ..actions.lifecycle import do_delete_retained_rooms, do_expire_due_rooms
from ..actions.logos import do_sweep_logo_uploads
from ..container import Container
from .passes import run_passes

log = logging.getLogger("meetkit.lifecycle")


class LifecycleWorker:
    def __init__(self, c: Container) -> None:
        self._c = c

    async def tick(self) -> int:
        """One pass: expire what is due, delete what is past retention, sweep logo uploads never
        finalized. Returns how many rooms changed."""
        changed = 0
        while expired := await do_expire_due_rooms(self._c):
            changed += len(expired)
            log.info("expired %d room(s)", len(expired))
        while deleted := await do_delete_retained_rooms(self._c):
            changed += len(deleted)
            log.info("deleted %d expired room(s) past retention", len(deleted))
        if swept := await do_sweep_logo_uploads(self._c):
            log.info("swept %d logo upload(s) never finalized", swept)
        return changed

    async def run(self) -> None:
        """Until cancelled; a failed pass is logged and the next one tries again."""
        await run_passes(self.tick, self._c.settings.lifecycle_poll_interval, log, "lifecycle")
