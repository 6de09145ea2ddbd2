"""allowed embedding origins per application (CSP frame-ancestors, socket Origin check)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # NULL: no list set, any site may frame (the behaviour before this revision).
    with op.batch_alter_table("applications") as batch:
        batch.add_column(sa.Column("embed_origins", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("applications") as batch:
        batch.drop_column("embed_origins")
