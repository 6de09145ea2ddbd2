"""recording pipeline jobs: where a recording's tracks are, and its composition timer

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import meetkit.storage.types

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("recordings") as batch:
        batch.add_column(sa.Column("record_dir", sa.String(512), nullable=True))
        batch.add_column(sa.Column("only_owner", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("next_attempt_at", meetkit.storage.types.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("last_error", sa.String(300), nullable=True))
        batch.create_index("ix_recordings_next_attempt_at", ["next_attempt_at"])
    op.create_index("uq_running_recording", "recordings", ["session_id"], unique=True,
                    sqlite_where=sa.text("status = 'started'"), postgresql_where=sa.text("status = 'started'"))


def downgrade() -> None:
    op.drop_index("uq_running_recording", table_name="recordings")
    with op.batch_alter_table("recordings") as batch:
        batch.drop_index("ix_recordings_next_attempt_at")
        batch.drop_column("last_error")
        batch.drop_column("next_attempt_at")
        batch.drop_column("attempts")
        batch.drop_column("only_owner")
        batch.drop_column("record_dir")
