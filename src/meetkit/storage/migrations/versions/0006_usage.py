"""usage metering: usage_items, usage_monthly, and the unmetered markers of sessions and recordings

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import meetkit.storage.types

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Date = meetkit.storage.types.UTCDateTime
Minutes = meetkit.storage.types.Minutes
Serial = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UNMETERED = sa.text("ended_at IS NOT NULL AND usage_metered_at IS NULL")


def upgrade() -> None:
    # Sessions and recordings that ended before this revision are left unmetered: the worker meters them.
    for table in ("sessions", "recordings"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("usage_metered_at", Date(timezone=True), nullable=True))
        op.create_index(f"ix_{table}_unmetered", table, ["application_id", "ended_at"],
                        sqlite_where=UNMETERED, postgresql_where=UNMETERED)
    op.create_table(
        "usage_items",
        sa.Column("id", Serial, primary_key=True, autoincrement=True),
        sa.Column("application_id", sa.String(36), nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("subject_id", sa.String(64), nullable=False),
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("micro_minutes", Minutes(), nullable=False),
        sa.Column("ended_at", Date(timezone=True), nullable=False),
        sa.Column("metered_at", Date(timezone=True), nullable=False),
        sa.UniqueConstraint("kind", "subject_id", name="uq_usage_item_subject"),
    )
    op.create_index("ix_usage_items_app_month", "usage_items", ["application_id", "month", "kind"])
    op.create_table(
        "usage_monthly",
        sa.Column("application_id", sa.String(36), primary_key=True),
        sa.Column("month", sa.String(7), primary_key=True),
        sa.Column("sessions", sa.Integer(), nullable=False),
        sa.Column("participants", sa.Integer(), nullable=False),
        sa.Column("participant_micro_minutes", Minutes(), nullable=False),
        sa.Column("recordings", sa.Integer(), nullable=False),
        sa.Column("recording_micro_minutes", Minutes(), nullable=False),
        sa.Column("updated_at", Date(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("usage_monthly")
    op.drop_table("usage_items")
    for table in ("recordings", "sessions"):
        op.drop_index(f"ix_{table}_unmetered", table_name=table)
        with op.batch_alter_table(table) as batch:
            batch.drop_column("usage_metered_at")
