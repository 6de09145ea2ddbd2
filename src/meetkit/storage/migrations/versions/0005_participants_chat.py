"""participants and chat messages; one running session per room

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import meetkit.storage.types

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Date = meetkit.storage.types.UTCDateTime
Serial = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_index("uq_running_session", "sessions", ["room_id"], unique=True,
                    sqlite_where=sa.text("ended_at IS NULL"), postgresql_where=sa.text("ended_at IS NULL"))
    op.create_table(
        "participants",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("session_id", sa.String(64), sa.ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("room_id", sa.String(36), nullable=False),
        sa.Column("application_id", sa.String(36), sa.ForeignKey("applications.id"), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("is_host", sa.Boolean(), nullable=False),
        sa.Column("joined_at", Date(timezone=True), nullable=False),
        sa.Column("left_at", Date(timezone=True), nullable=True),
        sa.Column("left_reason", sa.String(16), nullable=True),
    )
    op.create_index("ix_participants_session_left", "participants", ["session_id", "left_at"])
    op.create_index("ix_participants_room_id", "participants", ["room_id"])
    op.create_index("ix_participants_application_id", "participants", ["application_id"])
    op.create_table(
        "chat_messages",
        sa.Column("id", Serial, primary_key=True, autoincrement=True),
        sa.Column("session_id", sa.String(64), sa.ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("participant_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("sent_at", Date(timezone=True), nullable=False),
    )
    op.create_index("ix_chat_session_id", "chat_messages", ["session_id", "id"])


def downgrade() -> None:
    op.drop_table("chat_messages")
    op.drop_table("participants")
    op.drop_index("uq_running_session", table_name="sessions")
