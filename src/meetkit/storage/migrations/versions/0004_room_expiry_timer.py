"""room expiry timer: rooms.expiry_due_at and rooms.expired_at

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import meetkit.storage.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("rooms") as batch:
        batch.add_column(sa.Column("expiry_due_at", meetkit.storage.types.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("expired_at", meetkit.storage.types.UTCDateTime(timezone=True), nullable=True))
        batch.create_index("ix_rooms_expiry_due_at", ["expiry_due_at"])
        batch.create_index("ix_rooms_expired_at", ["expired_at"])
    # Rooms created before the timer existed expire at their expires_at.
    op.execute("UPDATE rooms SET expiry_due_at = expires_at WHERE is_available")


def downgrade() -> None:
    with op.batch_alter_table("rooms") as batch:
        batch.drop_index("ix_rooms_expired_at")
        batch.drop_index("ix_rooms_expiry_due_at")
        batch.drop_column("expired_at")
        batch.drop_column("expiry_due_at")
