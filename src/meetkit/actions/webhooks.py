"""Webhook events into the outbox, inside the caller's transaction; the delivery worker sends them.

``enqueue_event`` only inserts rows: nothing leaves the process before the change commits. After the
commit, the workers of this process are woken (``doorbell``); other processes find the rows by polling."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..container import Container
from ..domain import webhooks as hooks
from ..domain.delivery import DeliveryStatus, can_move
from ..errors import BadRequest, NotFound
from ..storage import tables as t
from ..storage.on_commit import on_commit

STATUSES = tuple(status.value for status in DeliveryStatus)

_ROOM_URL = {
    hooks.Channel.ROOMS: "rooms_callback_url",
    hooks.Channel.SESSIONS: "sessions_callback_url",
    hooks.Channel.RECORDINGS: "recordings_callback_url",
}
_APP_URL = {
    hooks.Channel.ROOMS: "room_changed_url",
    hooks.Channel.SESSIONS: "session_changed_url",
    hooks.Channel.RECORDINGS: "recording_changed_url",
}


class Doorbell:
    """Wakes the delivery workers of this process after a transaction that enqueued events commits."""

    def __init__(self) -> None:
        self._listeners: dict[int, Callable[[], None]] = {}

    def subscribe(self, wake: Callable[[], None]) -> Callable[[], None]:
        key = id(wake)
        self._listeners[key] = wake

        def unsubscribe() -> None:
            self._listeners.pop(key, None)

        return unsubscribe

    def ring(self) -> None:
        for wake in list(self._listeners.values()):
            wake()


doorbell = Doorbell()


def target_url(application: t.Application, room: t.Room | None, event_name: str) -> str | None:
    """The room's callback URL for the event's channel, else the application's."""
    channel = hooks.channel_of(event_name)
    if room is not None:
        url = (room.callback_urls or {}).get(_ROOM_URL[channel])
        if url:
            return str(url)
    url = getattr(application, _APP_URL[channel])
    return str(url) if url else None


def ordering_key(url: str) -> str:
    """One queue per target URL."""
    return hashlib.sha256(url.encode()).hexdigest()


async def enqueue_event(
    db: AsyncSession,
    application: t.Application,
    room: t.Room | None,
    event_name: str,
    payload: hooks.Event | Mapping[str, Any],
    *,
    now: datetime,
) -> list[t.WebhookDelivery]:
    """Put ``event_name`` in the outbox, in the caller's transaction; returns the rows (none without a
    callback URL). The payload is checked against the event's closed schema. ``now`` comes from the
    caller's clock (``container.clock``): it is when the row is first due."""
    model = hooks.EVENT_MODELS.get(event_name)
    if model is None:
        raise ValueError(f"unknown webhook event {event_name!r}")
    checked = payload if isinstance(payload, model) else model.model_validate(
        payload if isinstance(payload, Mapping) else payload.model_dump())
    body = checked.model_dump(mode="json")
    if body["event"] != event_name:
        raise ValueError(f"payload is for {body['event']!r}, not {event_name!r}")
    url = target_url(application, room, event_name)
    if url is None:
        return []
    event_id = uuid.uuid4()
    row = t.WebhookDelivery(
        application_id=application.id,
        room_id=room.id if room is not None else None,
        room_metadata=room.meta if room is not None else None,
        event=event_name,
        payload=body,
        target_url=url,
        ordering_key=ordering_key(url),
        idempotency_key=uuid.uuid5(event_id, url).hex,
        status=DeliveryStatus.PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
        queued_at=now,
    )
    db.add(row)
    on_commit(db, doorbell.ring)
    return [row]


async def list_deliveries(c: Container, status: str | None = None, limit: int = 100) -> Sequence[t.WebhookDelivery]:
    if status is not None and status not in STATUSES:
        raise BadRequest(f"status must be one of {', '.join(STATUSES)}")
    query = select(t.WebhookDelivery).order_by(t.WebhookDelivery.id.desc()).limit(limit)
    if status is not None:
        query = query.where(t.WebhookDelivery.status == status)
    async with c.sessions() as db:
        return (await db.scalars(query)).all()


async def do_replay_delivery(c: Container, delivery_id: int) -> t.WebhookDelivery:
    """Queue a delivered, failed or dead delivery again, with the same idempotency key."""
    now = c.clock.now()
    async with c.sessions.begin() as db:
        row = await db.get(t.WebhookDelivery, delivery_id, with_for_update=True)
        if row is None:
            raise NotFound(f"could not find webhook delivery {delivery_id}")
        if not can_move(row.status, DeliveryStatus.PENDING):
            raise BadRequest(f"webhook delivery {delivery_id} is still pending")
        await db.execute(
            update(t.WebhookDelivery).where(t.WebhookDelivery.id == delivery_id).values(
                status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=now, queued_at=now, last_error=None,
                delivered_at=None))
        on_commit(db, doorbell.ring)
    async with c.sessions() as db:
        fresh = await db.get(t.WebhookDelivery, delivery_id)
        assert fresh is not None
        return fresh

