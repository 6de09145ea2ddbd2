"""What nodes say to each other over Redis (cluster/wire.py) is closed and typed, like the socket
protocol: every message round-trips, and anything else is refused. And what a node of a deployment
needs to start."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from meetkit.cluster.wire import (
    BATCH,
    INBOX,
    ROOMS,
    LinkBatch,
    LinkClose,
    LinkFrame,
    LinkOpen,
    RoomEndedMessage,
    RoomUpdatedMessage,
)
from meetkit.config import Settings

LINK = "0123456789abcdef"


@pytest.mark.parametrize("message", [
    LinkOpen(link=LINK, edge="node-b", code="123456789"),
    LinkFrame(link=LINK, text='{"type":"hello"}'),
    LinkFrame(link=LINK, text=None),
    LinkClose(link=LINK, code=4503),
])
def test_inbox_messages_round_trip(message: LinkOpen | LinkFrame | LinkClose) -> None:
    batch = LinkBatch(items=[message, LinkClose(link=LINK, code=1000)])
    assert INBOX.validate_json(batch.model_dump_json()) == batch
    # What Links.say puts together as text is the same batch.
    text = '{"op":"batch","items":[' + ",".join(m.model_dump_json() for m in batch.items) + "]}"
    assert INBOX.validate_json(text) == batch


@pytest.mark.parametrize("message", [RoomEndedMessage(room_id="r", reason="deleted"), RoomUpdatedMessage(room_id="r")])
def test_room_messages_round_trip(message: RoomEndedMessage | RoomUpdatedMessage) -> None:
    assert ROOMS.validate_json(message.model_dump_json()) == message


@pytest.mark.parametrize("raw", [
    '{"op": "open", "link": "0123456789abcdef", "edge": "b", "code": "123456789", "extra": 1}',
    '{"op": "open", "link": "not-a-link", "edge": "b", "code": "123456789"}',
    '{"op": "open", "link": "0123456789abcdef", "edge": "b", "code": "12345"}',
    '{"op": "close", "link": "0123456789abcdef", "code": 999}',
    '{"op": "dance", "link": "0123456789abcdef"}',
    '{"link": "0123456789abcdef", "text": "x"}',
])
def test_anything_else_is_refused(raw: str) -> None:
    with pytest.raises(ValidationError):
        INBOX.validate_json('{"op": "batch", "items": [' + raw + "]}")
    with pytest.raises(ValidationError):
        INBOX.validate_json(raw)  # a link message is never sent alone


def test_a_batch_is_never_empty_nor_too_big() -> None:
    with pytest.raises(ValidationError):
        INBOX.validate_json('{"op": "batch", "items": []}')
    one = LinkClose(link=LINK, code=1000).model_dump_json()
    with pytest.raises(ValidationError):
        INBOX.validate_json('{"op": "batch", "items": [' + ",".join([one] * (BATCH + 1)) + "]}")


def test_room_events_refuse_unknown_reasons() -> None:
    with pytest.raises(ValidationError):
        ROOMS.validate_json('{"op": "room_ended", "room_id": "r", "reason": "bored"}')


def test_a_node_of_a_deployment_needs_postgresql_and_a_shared_secret(tmp_path: Path) -> None:
    pg = "postgresql+asyncpg://meetkit@127.0.0.1/meetkit"
    with pytest.raises(ValidationError, match="PostgreSQL"):
        Settings(data_dir=tmp_path, redis_url="redis://127.0.0.1:6379/0")
    with pytest.raises(ValidationError, match="MEETKIT_SECRET_KEY"):
        Settings(data_dir=tmp_path, redis_url="redis://127.0.0.1:6379/0", database_url=pg)
    with pytest.raises(ValidationError, match="must start with"):
        Settings(data_dir=tmp_path, redis_url="http://127.0.0.1:6379", database_url=pg, secret_key="x" * 32)
    ok = Settings(data_dir=tmp_path, redis_url="redis://127.0.0.1:6379/0", database_url=pg, secret_key="x" * 32)
    assert ok.room_lease_seconds == 6.0
