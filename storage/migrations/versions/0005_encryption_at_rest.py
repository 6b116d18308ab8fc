"""encryption at rest: free text and identifiers become Fernet tokens in text columns

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 21:10:00

Upgrade turns each column into text and encrypts every existing value with the newest key of
FRONTDOOR_DATA_KEYS (or the SQLite key file beside the database), so a plaintext database is
converted in place. Downgrade decrypts back to the plaintext JSON and text columns. Values are
processed in batches of primary keys so a large table never sits in memory.
"""
from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from storage.crypto import Keyring, is_token, keyring_for

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 500
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')

# table -> [(column, type before this revision, nullable)]; frozen here on purpose, the models
# may change later.
COLUMNS: dict[str, list[tuple[str, sa.types.TypeEngine[object], bool]]] = {
    'conversations': [('state', _JSON, False)],
    'turns': [('text', sa.Text(), False), ('analysis', _JSON, True)],
    'inbox': [('payload', _JSON, False)],
    'outbox': [('payload', _JSON, False)],
    'contacts': [('handover', _JSON, False), ('risk_evidence', _JSON, False),
                 ('notes', sa.Text(), False)],
    'consent_records': [('no_consent_explanation', sa.Text(), False),
                        ('sharing_limits', sa.Text(), False)],
    'audit_events': [('detail', _JSON, False)],
    'officers': [('totp_secret', sa.String(length=64), False)],
    'blocked_senders': [('reason', sa.Text(), False)],
    'safeguarding_holds': [('reason', sa.Text(), False), ('lift_reason', sa.Text(), False)],
}


def _is_json(kind: sa.types.TypeEngine[object]) -> bool:
    return isinstance(kind, sa.JSON)


def _postgres() -> bool:
    return op.get_bind().dialect.name == 'postgresql'


def _change_types(to_text: bool) -> None:
    for table, all_columns in COLUMNS.items():
        # Text columns already hold text: only their values change.
        columns = [c for c in all_columns if not isinstance(c[1], sa.Text)]
        if not columns:
            continue
        if _postgres():
            for name, kind, nullable in columns:
                if to_text:
                    op.alter_column(table, name, type_=sa.Text(), existing_type=kind,
                                    existing_nullable=nullable,
                                    postgresql_using=f'{name}::text')
                else:
                    using = f'{name}::jsonb' if _is_json(kind) else None
                    op.alter_column(table, name, type_=kind, existing_type=sa.Text(),
                                    existing_nullable=nullable, postgresql_using=using)
            continue
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, kind, nullable in columns:
                batch_op.alter_column(name, type_=sa.Text() if to_text else kind,
                                      existing_type=sa.Text() if not to_text else kind,
                                      existing_nullable=nullable)


def _rewrite(change: Callable[[Keyring, str], str | None]) -> None:
    """Apply `change` to every value of every listed column; None leaves a value as it is."""
    bind = op.get_bind()
    keys: list[Keyring] = []

    def keyring() -> Keyring:
        # Only when there is something to convert: an empty database needs no key yet.
        if not keys:
            keys.append(keyring_for(bind.engine.url))
        return keys[0]

    for table, columns in COLUMNS.items():
        for name, _kind, _nullable in columns:
            t = sa.table(table, sa.column('id', sa.Integer()), sa.column(name, sa.Text()))
            col = t.c[name]
            last = 0
            while True:
                rows = bind.execute(sa.select(t.c.id, col)
                                    .where(t.c.id > last, col.is_not(None))
                                    .order_by(t.c.id).limit(BATCH)).all()
                if not rows:
                    break
                last = rows[-1][0]
                updates = []
                for row_id, value in rows:
                    new = change(keyring(), str(value))
                    if new is not None:
                        updates.append({'row_id': row_id, 'value': new})
                if updates:
                    bind.execute(sa.update(t).where(t.c.id == sa.bindparam('row_id'))
                                 .values({name: sa.bindparam('value')}), updates)


def _encrypt(keyring: Keyring, value: str) -> str | None:
    # A value that is already a token was converted by an earlier, interrupted run.
    if is_token(value) and keyring.status(value) != 'unreadable':
        return None
    return keyring.encrypt(value.encode('utf-8'))


def _decrypt(keyring: Keyring, value: str) -> str | None:
    if not is_token(value):
        return None
    return keyring.decrypt(value).decode('utf-8')


def _secure_delete() -> None:
    """SQLite: overwrite the freed plaintext pages instead of leaving them in the file."""
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('PRAGMA secure_delete = ON')


def upgrade() -> None:
    _secure_delete()
    _change_types(to_text=True)
    _rewrite(_encrypt)


def downgrade() -> None:
    _rewrite(_decrypt)
    _change_types(to_text=False)
