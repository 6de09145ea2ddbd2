"""short_company_url unique without regard to case

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("alembic.runtime.migration")


def upgrade() -> None:
    # Themes whose short URLs differ only in case: the oldest keeps it, the others lose it (their
    # rooms' links fall back to the plain /<code> form, which still works), so the index can exist.
    conn = op.get_bind()
    rows = conn.execute(sa.text(
        "SELECT id, short_company_url FROM themes WHERE short_company_url IS NOT NULL ORDER BY created_at, id"
    )).all()
    seen: set[str] = set()
    for theme_id, short in rows:
        if short.lower() in seen:
            log.warning("theme %s: short_company_url %r clashes with an older theme's (case aside); cleared",
                        theme_id, short)
            conn.execute(sa.text("UPDATE themes SET short_company_url = NULL WHERE id = :id"), {"id": theme_id})
        seen.add(short.lower())
    op.create_index("uq_theme_short_url_ci", "themes", [sa.text("lower(short_company_url)")], unique=True)


def downgrade() -> None:
    op.drop_index("uq_theme_short_url_ci", table_name="themes")
