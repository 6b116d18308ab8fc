"""blocked senders, sender notices, safeguarding holds, inbox rate-limit index

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 20:50:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = storage.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table('blocked_senders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('chat', sa.String(length=128), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('blocked_by', sa.String(length=80), nullable=False),
    sa.Column('blocked_at', _TS, nullable=False),
    sa.Column('until', _TS, nullable=True),
    sa.Column('unblocked_by', sa.String(length=80), nullable=True),
    sa.Column('unblocked_at', _TS, nullable=True),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('blocked_senders', schema=None) as batch_op:
        batch_op.create_index('ix_blocked_senders_chat', ['channel', 'chat', 'unblocked_at'],
                              unique=False)
    op.create_table('sender_notices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('chat', sa.String(length=128), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('sent_at', _TS, nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('channel', 'chat', 'kind', name='uq_sender_notice')
    )
    op.create_table('safeguarding_holds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('set_by', sa.String(length=80), nullable=False),
    sa.Column('set_at', _TS, nullable=False),
    sa.Column('lifted_by', sa.String(length=80), nullable=True),
    sa.Column('lifted_at', _TS, nullable=True),
    sa.Column('lift_reason', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('safeguarding_holds', schema=None) as batch_op:
        batch_op.create_index('ix_safeguarding_holds_contact', ['contact_id', 'set_at'],
                              unique=False)
    with op.batch_alter_table('inbox', schema=None) as batch_op:
        batch_op.create_index('ix_inbox_chat_received', ['channel', 'chat', 'received_at'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('inbox', schema=None) as batch_op:
        batch_op.drop_index('ix_inbox_chat_received')
    with op.batch_alter_table('safeguarding_holds', schema=None) as batch_op:
        batch_op.drop_index('ix_safeguarding_holds_contact')
    op.drop_table('safeguarding_holds')
    op.drop_table('sender_notices')
    with op.batch_alter_table('blocked_senders', schema=None) as batch_op:
        batch_op.drop_index('ix_blocked_senders_chat')
    op.drop_table('blocked_senders')
