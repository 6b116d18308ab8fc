"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import ClauseElement, ColumnElement
from sqlalchemy.sql.operators import OperatorType
from sqlalchemy.types import TypeDecorator

from storage.crypto import keyring_of

JSONType = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes everywhere (SQLite forgets the zone; we put it back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class _NotComparable(TypeDecorator.Comparator[Any]):
    """Encrypted values have a random IV: SQL can only test them for NULL.

    Raising here turns a filter on an encrypted column (which would silently match nothing)
    into an error at the line that wrote it.
    """

    @staticmethod
    def _check(op: OperatorType, other: tuple[Any, ...]) -> None:
        # SQLAlchemy itself compares columns with columns; a Python value (other than None,
        # which becomes IS NULL) or an ordering is refused.
        if op in (operators.asc_op, operators.desc_op) or not all(
            o is None or isinstance(o, ClauseElement) for o in other
        ):
            raise TypeError(
                "an encrypted column cannot be compared, ordered or searched in SQL; "
                "select the rows by another column and filter in Python"
            )

    def operate(self, op: OperatorType, *other: Any, **kwargs: Any) -> ColumnElement[Any]:
        self._check(op, other)
        return super().operate(op, *other, **kwargs)

    def reverse_operate(self, op: OperatorType, other: Any, **kwargs: Any) -> ColumnElement[Any]:
        self._check(op, (other,))
        return super().reverse_operate(op, other, **kwargs)


class EncryptedText(TypeDecorator[str]):
    """Text stored as a Fernet token under the database's data keys (storage/crypto.py)."""

    impl = Text
    cache_ok = True
    comparator_factory = _NotComparable

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return keyring_of(dialect).encrypt(value.encode("utf-8"))

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return keyring_of(dialect).decrypt(value).decode("utf-8")


class EncryptedJSON(TypeDecorator[Any]):
    """JSON stored as a Fernet token: nothing inside it can be queried, by design."""

    impl = Text
    cache_ok = True
    comparator_factory = _NotComparable

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        data = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        return keyring_of(dialect).encrypt(data.encode("utf-8"))

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        return json.loads(keyring_of(dialect).decrypt(value))
