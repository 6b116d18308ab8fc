"""The turn log goes to the database as plain rows, one statement per transaction.

A turn adds two to six `turns` rows that nothing changes afterwards. As ORM objects each cost
a unit-of-work entry, and the flush inserted them with RETURNING (ids nobody reads) in a
statement whose text changed with the row count (on PostgreSQL, a new prepared statement for
every count on every connection). Here they wait in the session and are written together by
one `INSERT ... SELECT FROM unnest` (PostgreSQL) or one executemany (SQLite) at the moments
autoflush would have written them: before any other statement the session runs, and at
commit. So every query in the transaction still sees them (the transcript, erasure), and a
rollback drops them with everything else.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, event, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction

from storage.batch_sql import unnest_rows
from storage.models import Turn
from storage.types import utcnow

_PENDING = "frontdoor.turn_log"
_TABLE = cast(Table, Turn.__table__)
_COLUMNS = ("conversation_id", "run", "direction", "step", "kind", "text", "created_at")


def add(session: AsyncSession, *, conversation_id: int, run: int, direction: str,
        step: str | None, kind: str, text: str, at: datetime | None = None) -> None:
    """Log one message in or out; it reaches the database before the session's next
    statement or its commit."""
    row = (conversation_id, run, direction, step, kind, text, at or utcnow())
    session.info.setdefault(_PENDING, []).append(row)


def pending(session: AsyncSession) -> int:
    return len(session.info.get(_PENDING, ()))


def _write(session: Session) -> None:
    rows: list[tuple[Any, ...]] | None = session.info.pop(_PENDING, None)
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        columns = [_TABLE.c[name] for name in _COLUMNS]
        connection.execute(insert(_TABLE).from_select(list(_COLUMNS),
                                                      unnest_rows(columns, rows)))
    else:
        connection.execute(insert(_TABLE), [dict(zip(_COLUMNS, row, strict=True))
                                            for row in rows])


@event.listens_for(Session, "do_orm_execute")
def _before_statement(state: ORMExecuteState) -> None:
    _write(state.session)


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    _write(session)


@event.listens_for(Session, "after_transaction_end")
def _after_transaction(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the outermost one: committed (written) or rolled back
        session.info.pop(_PENDING, None)
