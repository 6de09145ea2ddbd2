"""Meeting recordings: from the tracks Janus wrote to one composed MP4. See :mod:`.compose`."""

from .compose import (
    ComposeError,
    ComposeResult,
    ComposeTimeout,
    Layout,
    Track,
    compose,
    discover_tracks,
    plan_layout,
)

__all__ = [
    "ComposeError",
    "ComposeResult",
    "ComposeTimeout",
    "Layout",
    "Track",
    "compose",
    "discover_tracks",
    "plan_layout",
]
