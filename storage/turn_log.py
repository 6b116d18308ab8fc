"""The turn log goes to the database as plain rows, one statement per transaction.

A turn adds two to six `turns` rows that nothing changes afterwards. As ORM objects each cost
a unit-of-work entry, and the flush inserted them with RETURNING (ids nobody reads) in a
statement whose text changed with the row count (on PostgreSQL, a new prepared statement for
every count on every connection). Here they wait in the session and are written together by
one `INSERT ... SELECT FROM unnest` (PostgreSQL) or one executemany (SQLite) at the moments
autoflush would have written them: before any other statement the session runs, and at
commit. So every query in the transaction still sees them (the transcript, erasure), and a
rollback drops them with everything else.

Inside a savepoint (`begin_nested`) they wait until it is over: written inside it, a rollback
to the savepoint would take rows logged before it with it. Rows logged inside a savepoint
that is rolled back are dropped. (So a query inside a savepoint doesn't see them yet.)
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, event, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction

from storage.batch_sql import on_postgresql, unnest_rows
from storage.models import Turn
from storage.types import utcnow

_PENDING = "frontdoor.turn_log"
_SAVEPOINTS = "frontdoor.turn_log.savepoints"  # id of an open savepoint -> rows logged before
_TABLE = cast(Table, Turn.__table__)
_COLUMNS = ("conversation_id", "run", "direction", "step", "kind", "text", "created_at")


def add(session: AsyncSession, *, conversation_id: int, run: int, direction: str,
        step: str | None, kind: str, text: str, at: datetime | None = None) -> None:
    """Log one message in or out; it reaches the database before the session's next
    statement or its commit."""
    row = (conversation_id, run, direction, step, kind, text, at or utcnow())
    session.info.setdefault(_PENDING, []).append(row)


def pending(session: AsyncSession | Session) -> int:
    return len(session.info.get(_PENDING, ()))


def _write(session: Session) -> None:
    if session.in_nested_transaction():
        return
    rows: list[tuple[Any, ...]] | None = session.info.pop(_PENDING, None)
    if not rows:
        return
    connection = session.connection()
    if on_postgresql(session):
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


@event.listens_for(Session, "after_transaction_create")
def _savepoint_begun(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested:  # how many rows were logged before it
        session.info.setdefault(_SAVEPOINTS, {})[id(transaction)] = pending(session)


@event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session) -> None:
    savepoint = session.get_nested_transaction()  # the one rolled back, if it is one
    if savepoint is not None:
        mark = session.info.get(_SAVEPOINTS, {}).get(id(savepoint))
        if mark is not None and _PENDING in session.info:
            del session.info[_PENDING][mark:]


@event.listens_for(Session, "after_transaction_end")
def _after_transaction(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the outermost one: committed (written) or rolled back
        session.info.pop(_PENDING, None)
        session.info.pop(_SAVEPOINTS, None)
    elif transaction.nested:
        session.info.get(_SAVEPOINTS, {}).pop(id(transaction), None)
