"""transcript_cues: what live captions heard, per session; sessions.captions_on

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from meetkit.storage.types import UTCDateTime

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "transcript_cues",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("session_id", sa.String(64), sa.ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("participant_id", sa.String(64), nullable=False),
        sa.Column("speaker", sa.String(200), nullable=False),
        sa.Column("start_ms", sa.BigInteger(), nullable=False),
        sa.Column("end_ms", sa.BigInteger(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_transcript_cues_session", "transcript_cues", ["session_id", "start_ms"])
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(sa.Column("captions_on", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("captions_on")
    op.drop_index("ix_transcript_cues_session", table_name="transcript_cues")
    op.drop_table("transcript_cues")
