"""webhook outbox

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import meetkit.storage.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    op.create_table("webhook_deliveries",
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
    sa.Column("application_id", sa.String(length=36), nullable=False),
    sa.Column("room_id", sa.String(length=36), nullable=True),
    sa.Column("room_metadata", sa.String(length=500), nullable=True),
    sa.Column("event", sa.String(length=64), nullable=False),
    sa.Column("payload", sa.JSON(), nullable=False),
    sa.Column("target_url", sa.String(length=2048), nullable=False),
    sa.Column("ordering_key", sa.String(length=64), nullable=False),
    sa.Column("idempotency_key", sa.String(length=64), nullable=False),
    sa.Column("status", sa.String(length=16), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("next_attempt_at", meetkit.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column("last_error", sa.String(length=300), nullable=True),
    sa.Column("created_at", meetkit.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column("queued_at", meetkit.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column("delivered_at", meetkit.storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(["application_id"], ["applications.id"], ),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("idempotency_key")
    )
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_webhook_deliveries_application_id"), ["application_id"], unique=False)
        batch_op.create_index("ix_webhook_pending_due", ["next_attempt_at"], unique=False,
                              sqlite_where=_PENDING, postgresql_where=_PENDING)
        batch_op.create_index("ix_webhook_pending_target", ["ordering_key", "id"], unique=False,
                              sqlite_where=_PENDING, postgresql_where=_PENDING)
        batch_op.create_index("ix_webhook_status_id", ["status", "id"], unique=False)


def downgrade() -> None:
    op.drop_table("webhook_deliveries")
