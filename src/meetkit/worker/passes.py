"""The loop the polling workers share: a pass, then a pause, until cancelled."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable


async def run_passes(tick: Callable[[], Awaitable[object]], interval: float, log: logging.Logger, what: str,
                     wake: asyncio.Event | None = None) -> None:
    """Run ``tick`` every ``interval`` seconds, or sooner when ``wake`` is set. A failed pass is logged
    and the next one tries again: the work itself is in rows, so nothing is lost."""
    while True:
        try:
            await tick()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s pass failed; retrying", what)
        if wake is None:
            await asyncio.sleep(interval)
            continue
        wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), interval)
