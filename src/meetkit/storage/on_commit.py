"""Work to do once a transaction has committed (Zulip's ``on_commit``): announcing a change that is
durable, never one that rolled back. The webhook doorbell and the room-event bus both use it."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

_PENDING = "meetkit.on_commit"


def on_commit(db: AsyncSession, callback: Callable[[], None]) -> None:
    """Runs ``callback`` after ``db``'s transaction commits, once however often it is asked for the
    same callback; forgotten if the transaction rolls back."""
    session = db.sync_session
    if not session.in_transaction():  # the callback belongs to a transaction: begin it (no I/O yet)
        session.begin()
    pending: list[Callable[[], None]] = session.info.setdefault(_PENDING, [])
    if callback not in pending:
        pending.append(callback)


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    for callback in session.info.pop(_PENDING, []):
        callback()


@event.listens_for(Session, "after_soft_rollback")
def _forget_after_rollback(session: Session, previous: SessionTransaction) -> None:
    # Only the outer transaction's end: a savepoint rolled back leaves the outer transaction's work.
    if previous.parent is None:
        session.info.pop(_PENDING, None)
