"""A recording's states and the moves between them: started → stopped → uploaded, or failed when
composing it gives up. The values are the ones stored in ``recordings.status`` and shown on the wire."""

from __future__ import annotations

from enum import StrEnum


class RecordingStatus(StrEnum):
    STARTED = "started"  # the meeting is being captured
    STOPPED = "stopped"  # captured; its composition is due (or running, or waiting for a retry)
    UPLOADED = "uploaded"  # composed and stored: it can be downloaded
    FAILED = "failed"  # composing it gave up; the tracks are kept


class RecordingTransitionError(ValueError):
    """A move the recording's lifecycle does not have."""


TRANSITIONS: dict[RecordingStatus, frozenset[RecordingStatus]] = {
    RecordingStatus.STARTED: frozenset({RecordingStatus.STOPPED}),
    RecordingStatus.STOPPED: frozenset({RecordingStatus.UPLOADED, RecordingStatus.FAILED}),
    RecordingStatus.UPLOADED: frozenset(),
    RecordingStatus.FAILED: frozenset(),
}

# Final states: the recording may be deleted, and it no longer holds back its room's deletion.
DELETABLE = frozenset({RecordingStatus.UPLOADED, RecordingStatus.FAILED})
# Captured minutes that are billed (docs/pricing.md): a stopped recording is metered before it is composed.
METERED = (RecordingStatus.STOPPED, RecordingStatus.UPLOADED)


def can_move(current: str, new: RecordingStatus) -> bool:
    try:
        return new in TRANSITIONS[RecordingStatus(current)]
    except ValueError:
        return False


def move(current: str, new: RecordingStatus) -> RecordingStatus:
    """``new``, if the lifecycle allows it from ``current``; raises otherwise."""
    if not can_move(current, new):
        raise RecordingTransitionError(f"a recording cannot go from {current!r} to {new.value!r}")
    return new
