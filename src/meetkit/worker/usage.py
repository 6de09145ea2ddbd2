"""The usage worker: meters ended sessions and finished recordings into usage_items and usage_monthly.

What is still to meter is in the rows themselves (``usage_metered_at`` is NULL), so a restart loses
nothing, and a pass that fails leaves its batch for the next one. Metering soon after the end matters:
deleting a room deletes its sessions and participants, and only metered usage outlives them."""

from __future__ import annotations

import logging

from ..actions.usage import Metered, do_meter_pending
from ..container import Container
from .passes import run_passes

log = logging.getLogger("meetkit.usage")


class UsageWorker:
    def __init__(self, c: Container) -> None:
        self._c = c

    async def tick(self) -> Metered:
        """One pass: meter everything that has ended and is not metered yet."""
        done = await do_meter_pending(self._c)
        if done:
            log.info("metered %d session(s) (%d participant(s)) and %d recording(s)",
                     done.sessions, done.participants, done.recordings)
        return done

    async def run(self) -> None:
        """Until cancelled; a failed pass is logged and the next one tries again."""
        await run_passes(self.tick, self._c.settings.usage_poll_interval, log, "usage")
