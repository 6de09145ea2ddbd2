"""The simulcast layer of each video one viewer receives (docs/media.md "Simulcast").

A video's layer is set in its ``subscribe`` item, then changed with ``configure`` as its tile
changes. Janus switches layers only on a keyframe of the new one, and asks the publisher for it once
per configure. libwebrtc refuses a keyframe request that comes within 300 ms of the last one it took
(EncoderRtcpFeedback, for all the publisher's viewers together): a request that lands just after
another viewer's was lost, and the video stayed on its old layer until someone else asked. Janus
says which layer it relays on each m-line (an event ``{mid, substream}``), so a layer that Janus has
not reached CHECK_AFTER after it was asked for is asked for again, at most ASKS times in all (a
publisher may no longer send that layer: Janus's fallback then keeps a lower one). Only once Janus
relays something on the m-line: before that, nothing reaches the page anyway, and Janus asks for a
keyframe by itself when the subscriber's connection comes up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ..clock import Clock

FALLBACK_US = 250_000  # Janus drops to a lower layer after this long without packets of the chosen one
CHECK_AFTER = 1.0  # seconds an asked-for layer may take before it is asked for again
ASKS = 3  # times one layer is asked for, in all

LayerKey = tuple[str, int, str]  # (subscriber mid, feed, the publisher's mid): a reused mid is new


def layer_options(substream: int | None) -> dict[str, int]:
    """A video's simulcast layer, for a ``subscribe`` item or a ``configure`` stream (None: a screen,
    sent whole). Given in the subscribe itself, the layer is set before the first packet: a configure
    right after it asked the publisher for a keyframe before the subscriber's connection was up, and
    the first frame waited for the next one libwebrtc would make (bench/join.py)."""
    if substream is None:
        return {}
    return {"substream": substream, "temporal": 2, "fallback": FALLBACK_US}


@dataclass(eq=False)
class ViewerLayers:
    """What Janus was told and what it says it relays, for one viewer's subscriber handle. ``wake``
    runs the viewer's next reconcile pass, which calls :meth:`changes`."""

    clock: Clock
    wake: Callable[[], None]
    configured: dict[LayerKey, int] = field(default_factory=dict)
    relayed: dict[str, int] = field(default_factory=dict)  # mid → the substream Janus relays there
    asks: dict[LayerKey, int] = field(default_factory=dict)  # how often the configured layer was asked
    due: dict[LayerKey, datetime] = field(default_factory=dict)  # when it may be asked for again

    def subscribed(self, key: LayerKey, substream: int) -> None:
        """A video was subscribed with ``layer_options(substream)``."""
        self.relayed.pop(key[0], None)  # a reused m-line: what Janus said was about another video
        self._asked(key, substream, again=False)

    def heard(self, mid: str, substream: int) -> None:
        """Janus relays ``substream`` on ``mid`` now (its unasked ``{mid, substream}`` event)."""
        self.relayed[mid] = substream

    def changes(self, videos: dict[tuple[int, str], int | None], active: set[LayerKey]) -> dict[LayerKey, int]:
        """The layers to configure now: wanted ones not asked for yet, and asked ones Janus has not
        reached in time. ``videos``: (feed, publisher mid) → wanted substream; ``active``: the video
        m-lines the handle has."""
        self.forget(active)
        now = self.clock.now()
        out: dict[LayerKey, int] = {}
        for key in active:
            wanted = videos.get((key[1], key[2]))
            if wanted is None:
                continue
            if self.configured.get(key) != wanted:
                out[key] = wanted
            elif (key[0] in self.relayed and self.relayed[key[0]] != wanted
                  and self.asks.get(key, 0) < ASKS and now >= self.due.get(key, now)):
                out[key] = wanted
        return out

    def configured_now(self, changes: dict[LayerKey, int]) -> None:
        """Janus took ``changes`` (a refused configure is not recorded, so it is asked for again)."""
        for key, substream in changes.items():
            self._asked(key, substream, again=self.configured.get(key) == substream)

    def forget(self, active: set[LayerKey]) -> None:
        """Forget m-lines gone or reused for another video."""
        for table in (self.configured, self.asks, self.due):
            for key in [k for k in table if k not in active]:
                del table[key]
        mids = {k[0] for k in active}
        for mid in [m for m in self.relayed if m not in mids]:
            del self.relayed[mid]

    def _asked(self, key: LayerKey, substream: int, *, again: bool) -> None:
        self.configured[key] = substream
        self.asks[key] = self.asks.get(key, 0) + 1 if again else 1
        self.due[key] = self.clock.now() + timedelta(seconds=CHECK_AFTER)
        self.clock.call_later(CHECK_AFTER, self.wake)
