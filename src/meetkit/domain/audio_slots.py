"""Who hears whom: the audio a participant receives, decided for every participant alike.

Up to ``all_up_to`` unmuted audio senders in the meeting, everyone receives all of them directly: a
small meeting never depends on talking detection. Above it, the hosts and the presenter (who shares
a screen) are still received directly, and everyone else is heard through ``slots`` audio m-lines
that meetkit points at the most recent speakers. A slot keeps its speaker while they are among the
``slots`` most recent; when someone new speaks, the least recent speaker's slot is re-pointed. Slots
that no recent speaker needs point at a sender who has not spoken yet, so they are already carrying
audio when that person starts.

The listener's own audio is never in its set. Times are whatever clock the caller uses (seconds)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class AudioChoice:
    direct: frozenset[str]
    """Senders whose audio is subscribed on its own m-line."""
    slots: tuple[str | None, ...]
    """What each slot points at, position by position as in ``previous`` (None: the slot is no longer
    needed; ``()`` when everyone is direct)."""


def choose_audio(
    listener: str,
    senders: Sequence[str],
    spoke_at: Mapping[str, float],
    hosts: Iterable[str],
    presenter: str | None,
    *,
    all_up_to: int,
    slots: int,
    previous: Sequence[str] = (),
) -> AudioChoice:
    """``senders``: unmuted audio senders, in the order they joined (the tie-break). ``spoke_at``: when
    each was last heard talking (someone talking now: now). ``previous``: this listener's slots as
    last chosen, kept in place where they still fit."""
    others = [x for x in senders if x != listener]
    if len(senders) <= all_up_to:
        return AudioChoice(direct=frozenset(others), slots=())
    always = set(hosts) | ({presenter} if presenter is not None else set())
    direct = frozenset(x for x in others if x in always)
    pool = [x for x in others if x not in direct]
    kept = set(previous)
    order = {x: i for i, x in enumerate(pool)}
    # Most recent first; then those already in a slot (no needless switch); then join order.
    ranked = sorted(pool, key=lambda x: (-spoke_at.get(x, float("-inf")), x not in kept, order[x]))
    chosen = ranked[:slots]
    wanted = set(chosen)
    placed: list[str | None] = [x if x in wanted else None for x in previous[:slots]]
    placed += [None] * (min(slots, len(chosen)) - len(placed))
    newcomers = [x for x in chosen if x not in placed]
    for i, x in enumerate(placed):
        if x is None and newcomers:
            placed[i] = newcomers.pop(0)
    return AudioChoice(direct=direct, slots=tuple(placed))
