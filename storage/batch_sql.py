"""Batch statements whose SQL text does not depend on how many rows or values they carry.

asyncpg prepares every distinct statement text on every pooled connection and keeps up to 100
of them per connection. `IN (...)` with one placeholder per value, or a multi-row `VALUES`,
is a new text for every batch size: under load that meant hundreds of texts, a PREPARE round
trip whenever a connection met a size it had not seen, and caches that kept growing. On
PostgreSQL the values go as one array per column instead (`= ANY(:array)`, `unnest`), one text
for every size; SQLite has no arrays and no server-side statement cache, so it keeps `IN`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, any_, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import Select


def on_postgresql(session: AsyncSession | Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def among(session: AsyncSession, column: Any, values: Iterable[Any]) -> ColumnElement[bool]:
    """`column IN values`, as `column = ANY(:array)` on PostgreSQL."""
    wanted = list(values)
    if on_postgresql(session):
        return column == any_(bindparam(None, wanted, type_=ARRAY(column.type)))
    result: ColumnElement[bool] = column.in_(wanted)
    return result


def unnest_rows(columns: Sequence[Any], rows: Sequence[Sequence[Any]]) -> Select[Any]:
    """`SELECT ... FROM unnest(:col1_array, :col2_array, ...) WITH ORDINALITY`, in the rows'
    order: PostgreSQL rows for `INSERT ... FROM SELECT`, one array per column. Each array is
    typed by its column, so an encrypted column is encrypted value by value as in a plain
    insert; the order keeps serial ids in the order of `rows`."""
    arrays = [bindparam(None, [row[i] for row in rows], type_=ARRAY(col.type))
              for i, col in enumerate(columns)]
    names = [col.key for col in columns]
    table = (func.unnest(*arrays).table_valued(*names, with_ordinality="position")
             .render_derived(name="batch"))
    return select(*(table.c[name] for name in names)).order_by(table.c.position)
