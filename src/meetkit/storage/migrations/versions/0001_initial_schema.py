"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import meetkit.storage.types

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('applications',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('public_key_pem', sa.Text(), nullable=False),
    sa.Column('default_theme_id', sa.String(length=36), nullable=True),
    sa.Column('room_changed_url', sa.String(length=2048), nullable=True),
    sa.Column('session_changed_url', sa.String(length=2048), nullable=True),
    sa.Column('recording_changed_url', sa.String(length=2048), nullable=True),
    sa.Column('webhook_secret', sa.String(length=128), nullable=False),
    sa.Column('created_at', meetkit.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('used_tokens',
    sa.Column('jti', sa.String(length=128), nullable=False),
    sa.Column('expires_at', meetkit.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('jti')
    )
    with op.batch_alter_table('used_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_used_tokens_expires_at'), ['expires_at'], unique=False)

    op.create_table('logo_uploads',
    sa.Column('key', sa.String(length=512), nullable=False),
    sa.Column('application_id', sa.String(length=36), nullable=False),
    sa.Column('logo_type', sa.String(length=16), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('uploaded_at', meetkit.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], ),
    sa.PrimaryKeyConstraint('key')
    )
    with op.batch_alter_table('logo_uploads', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_logo_uploads_application_id'), ['application_id'], unique=False)

    op.create_table('themes',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('application_id', sa.String(length=36), nullable=False),
    sa.Column('theme_name', sa.String(length=200), nullable=False),
    sa.Column('main_color', sa.String(length=7), nullable=False),
    sa.Column('brand_text', sa.String(length=200), nullable=False),
    sa.Column('short_company_url', sa.String(length=128), nullable=True),
    sa.Column('brand_image_colored', sa.String(length=512), nullable=True),
    sa.Column('brand_image_white', sa.String(length=512), nullable=True),
    sa.Column('branded_favicon', sa.String(length=512), nullable=True),
    sa.Column('created_at', meetkit.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('application_id', 'theme_name', name='uq_theme_name_per_app'),
    sa.UniqueConstraint('short_company_url')
    )
    with op.batch_alter_table('themes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_themes_application_id'), ['application_id'], unique=False)

    op.create_table('rooms',
    sa.Column('serial', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('application_id', sa.String(length=36), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('metadata', sa.String(length=500), nullable=True),
    sa.Column('type', sa.String(length=16), nullable=False),
    sa.Column('expires_at', meetkit.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expire_after_use', sa.Boolean(), nullable=False),
    sa.Column('theme_id', sa.String(length=36), nullable=True),
    sa.Column('join_approval_level', sa.String(length=32), nullable=False),
    sa.Column('recording_options', sa.JSON(), nullable=False),
    sa.Column('initial_join_options', sa.JSON(), nullable=False),
    sa.Column('callback_urls', sa.JSON(), nullable=False),
    sa.Column('available_features', sa.JSON(), nullable=False),
    sa.Column('ui_settings', sa.JSON(), nullable=False),
    sa.Column('meeting_code', sa.String(length=9), nullable=False),
    sa.Column('host_token', sa.String(length=64), nullable=False),
    sa.Column('is_available', sa.Boolean(), nullable=False),
    sa.Column('created_at', meetkit.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], ),
    sa.ForeignKeyConstraint(['theme_id'], ['themes.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('serial'),
    sa.UniqueConstraint('host_token'),
    sa.UniqueConstraint('id')
    )
    with op.batch_alter_table('rooms', schema=None) as batch_op:
        batch_op.create_index('ix_rooms_app_serial', ['application_id', 'serial'], unique=False)
        batch_op.create_index('ix_rooms_theme_serial', ['theme_id', 'serial'], unique=False)
        batch_op.create_index('uq_live_meeting_code', ['meeting_code'], unique=True, sqlite_where=sa.text('is_available'), postgresql_where=sa.text('is_available'))

    op.create_table('sessions',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('room_id', sa.String(length=36), nullable=False),
    sa.Column('application_id', sa.String(length=36), nullable=False),
    sa.Column('started_at', meetkit.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', meetkit.storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], ),
    sa.ForeignKeyConstraint(['room_id'], ['rooms.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sessions_application_id'), ['application_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sessions_room_id'), ['room_id'], unique=False)

    op.create_table('recordings',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('application_id', sa.String(length=36), nullable=False),
    sa.Column('session_id', sa.String(length=64), nullable=False),
    sa.Column('room_id', sa.String(length=36), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('started_at', meetkit.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', meetkit.storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('storage_key', sa.String(length=512), nullable=True),
    sa.Column('created_at', meetkit.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], ),
    sa.ForeignKeyConstraint(['session_id'], ['sessions.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('recordings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recordings_application_id'), ['application_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_recordings_session_id'), ['session_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('recordings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recordings_session_id'))
        batch_op.drop_index(batch_op.f('ix_recordings_application_id'))

    op.drop_table('recordings')
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sessions_room_id'))
        batch_op.drop_index(batch_op.f('ix_sessions_application_id'))

    op.drop_table('sessions')
    with op.batch_alter_table('rooms', schema=None) as batch_op:
        batch_op.drop_index('uq_live_meeting_code', sqlite_where=sa.text('is_available'), postgresql_where=sa.text('is_available'))
        batch_op.drop_index('ix_rooms_theme_serial')
        batch_op.drop_index('ix_rooms_app_serial')

    op.drop_table('rooms')
    with op.batch_alter_table('themes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_themes_application_id'))

    op.drop_table('themes')
    with op.batch_alter_table('logo_uploads', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_logo_uploads_application_id'))

    op.drop_table('logo_uploads')
    with op.batch_alter_table('used_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_used_tokens_expires_at'))

    op.drop_table('used_tokens')
    op.drop_table('applications')
