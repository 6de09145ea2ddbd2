"""participants: the browser a participant came from (a removed participant coming back waits in the lobby)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("participants") as batch:
        batch.add_column(sa.Column("browser_id", sa.String(64), nullable=True))
        batch.create_index("ix_participants_room_browser", ["room_id", "browser_id"])


def downgrade() -> None:
    with op.batch_alter_table("participants") as batch:
        batch.drop_index("ix_participants_room_browser")
        batch.drop_column("browser_id")
