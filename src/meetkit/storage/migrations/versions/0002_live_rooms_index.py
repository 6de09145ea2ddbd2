"""index for counting an application's live rooms

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_rooms_app_live", "rooms", ["application_id", "is_available"])


def downgrade() -> None:
    op.drop_index("ix_rooms_app_live", table_name="rooms")
