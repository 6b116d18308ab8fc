"""web chat resume codes

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 18:40:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = storage.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table('web_resume_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('chat', sa.String(length=128), nullable=False),
    sa.Column('created_at', _TS, nullable=False),
    sa.Column('expires_at', _TS, nullable=False),
    sa.Column('last_used_at', _TS, nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code_hash')
    )
    with op.batch_alter_table('web_resume_codes', schema=None) as batch_op:
        batch_op.create_index('ix_web_resume_codes_chat', ['chat'], unique=False)
        batch_op.create_index('ix_web_resume_codes_expires', ['expires_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('web_resume_codes', schema=None) as batch_op:
        batch_op.drop_index('ix_web_resume_codes_expires')
        batch_op.drop_index('ix_web_resume_codes_chat')
    op.drop_table('web_resume_codes')
