"""Candidates a browser trickled before the Janus handle they are for exists: kept, a few per target,
and handed over when the handle is made (:meth:`meetkit.media.participant.MediaParticipant.trickle`)."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("meetkit.media.janus")

MAX_EARLY_CANDIDATES = 32
"""Per target: a browser gathers a handful per connection; more is a confused or hostile page, and the
extra ones are dropped."""

Candidate = dict[str, Any] | None  # None: the browser's gathering completed


class EarlyCandidates:
    def __init__(self, limit: int = MAX_EARLY_CANDIDATES) -> None:
        self.limit = limit
        self._kept: dict[str, list[Candidate]] = {}

    def keep(self, target: str, candidate: Candidate) -> None:
        kept = self._kept.setdefault(target, [])
        if len(kept) < self.limit:
            kept.append(candidate)
        else:
            log.debug("dropping an early candidate for %s: %d already kept", target, len(kept))

    def take(self, target: str) -> list[Candidate]:
        """The candidates kept for ``target``, forgotten here."""
        return self._kept.pop(target, [])

    def forget(self, target: str) -> None:
        self._kept.pop(target, None)
