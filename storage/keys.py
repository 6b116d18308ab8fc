"""Key rotation and checks over every encrypted column (`frontdoor keys rotate|check`).

Columns are found from the models (every `EncryptedText`/`EncryptedJSON` column), so a new
encrypted column is rotated without touching this file. Values are read and written as the raw
tokens, never decrypted into memory longer than one batch, and each batch commits on its own:
a rotation that stops half way is simply run again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Column, Integer, Table, Text, bindparam, column, select, table, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import TableClause

import storage.abuse
import storage.holds
import storage.officers
import storage.web
from storage.crypto import DataKeyError, Keyring, Status
from storage.db import Database
from storage.models import Base
from storage.types import EncryptedJSON, EncryptedText

_MODELS = (storage.abuse, storage.holds, storage.officers, storage.web)  # all tables known
BATCH = 500


@dataclass
class ColumnReport:
    """What one column holds: values on the newest key, on an older key, and unreadable."""

    table: str
    column: str
    current: int = 0
    old: int = 0
    unreadable: int = 0
    rotated: int = 0
    unreadable_ids: list[int] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.table}.{self.column}"


def encrypted_columns() -> list[tuple[Table, Column[object]]]:
    found = []
    for tbl in Base.metadata.sorted_tables:
        for col in tbl.columns:
            if isinstance(col.type, EncryptedText | EncryptedJSON):
                found.append((tbl, col))
    return found


def raw_table(tbl: Table, col: Column[object]) -> TableClause:
    """The table with the column as plain text: tokens in and out, no decryption."""
    return table(tbl.name, column("id", Integer()), column(col.name, Text()))


async def _scan(
    db: Database,
    tbl: Table,
    col: Column[object],
    batch: int,
    visit: Callable[[str, Status], str | None],
) -> ColumnReport:
    report = ColumnReport(tbl.name, col.name)
    raw = raw_table(tbl, col)
    value = raw.c[col.name]
    last = 0
    while True:
        async with db.transaction() as session:
            rows = (
                await session.execute(
                    select(raw.c.id, value)
                    .where(raw.c.id > last, value.is_not(None))
                    .order_by(raw.c.id)
                    .limit(batch)
                )
            ).all()
            if not rows:
                return report
            last = rows[-1][0]
            changes = []
            for row_id, token in rows:
                status = db.keyring.status(str(token))
                setattr(report, status, getattr(report, status) + 1)
                if status == "unreadable" and len(report.unreadable_ids) < 20:
                    report.unreadable_ids.append(row_id)
                new = visit(str(token), status)
                if new is not None:
                    changes.append({"row_id": row_id, "old": token, "new": new})
            if changes:
                await replace(session, raw, col.name, changes)
                report.rotated += len(changes)


async def replace(
    session: AsyncSession, raw: TableClause, name: str, changes: list[dict[str, Any]]
) -> None:
    """Write `new` where the value is still `old`: a turn that wrote the row meanwhile used
    the newest key already, and its words must not be undone by a stale rotation."""
    value = raw.c[name]
    await session.execute(
        update(raw)
        .where(raw.c.id == bindparam("row_id"), value == bindparam("old"))
        .values({name: bindparam("new")}),
        changes,
    )


async def check(db: Database, *, batch: int = BATCH) -> list[ColumnReport]:
    """Count every encrypted value by the key it is under; changes nothing."""
    return [await _scan(db, tbl, col, batch, lambda *_: None) for tbl, col in encrypted_columns()]


async def rotate(db: Database, *, batch: int = BATCH) -> list[ColumnReport]:
    """Re-encrypt every value not yet under the newest key; values already there are left."""
    keyring: Keyring = db.keyring

    def visit(token: str, status: Status) -> str | None:
        return keyring.rotate(token) if status == "old" else None

    return [await _scan(db, tbl, col, batch, visit) for tbl, col in encrypted_columns()]


async def verify_sample(db: Database) -> None:
    """At start-up: the newest value of each encrypted column must be readable.

    A wrong or missing key then stops the service with an exact message, instead of every
    turn failing later. The value is only test-decrypted, never returned.
    """
    for tbl, col in encrypted_columns():
        raw = raw_table(tbl, col)
        value = raw.c[col.name]
        async with db.transaction() as session:
            token = await session.scalar(
                select(value).where(value.is_not(None)).order_by(raw.c.id.desc()).limit(1)
            )
        if token is not None and db.keyring.status(str(token)) == "unreadable":
            raise DataKeyError(
                f"The newest value in {tbl.name}.{col.name} cannot be decrypted with the keys "
                f"from {db.keyring.source}. Start with the key the data was written with "
                "(newest first in FRONTDOOR_DATA_KEYS); `frontdoor keys check` counts what "
                "cannot be read."
            )
