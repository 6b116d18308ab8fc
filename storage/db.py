"""Async engine and sessions for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from storage.crypto import Keyring, bind, keyring_for


def ensure_sqlite_directory(url: str) -> None:
    """SQLite creates the file but not its folder (the default is data/frontdoor.sqlite3)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(str(parsed.database)).parent.mkdir(parents=True, exist_ok=True)


class Database:
    """Owns the engine; `transaction()` is the unit every turn and handover runs in."""

    def __init__(self, url: str, *, echo: bool = False, keyring: Keyring | None = None) -> None:
        self.url = url
        # Before the engine: a missing key refuses to start rather than fail on first write.
        self.keyring = keyring or keyring_for(url)
        parsed = make_url(url)
        self.dialect = parsed.get_backend_name()
        # hide_parameters: a database error must never put someone's answers in a log.
        kwargs: dict[str, Any] = {"echo": echo, "hide_parameters": True}
        if self.dialect == "sqlite":
            ensure_sqlite_directory(url)
            kwargs["connect_args"] = {"timeout": 30}
            if parsed.database not in (None, "", ":memory:"):
                # Every transaction takes SQLite's single write lock at BEGIN, so more
                # connections only add waiters that poll for it, sleeping up to 100 ms between
                # tries. One connection queues them in order instead (load benchmark: +27%
                # turns/s, p99 -37%). Other processes still wait through the busy timeout.
                kwargs.update(pool_size=1, max_overflow=0, pool_timeout=30)
        else:
            kwargs.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        bind(self.engine.sync_engine.dialect, self.keyring)
        if self.dialect == "sqlite":
            _sqlite_immediate_transactions(self.engine)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one committed-or-rolled-back transaction."""
        async with self.sessions() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()


def _sqlite_immediate_transactions(engine: AsyncEngine) -> None:
    """SQLite: take the write lock at BEGIN so concurrent writers queue instead of failing.

    The default deferred BEGIN lets two transactions read and then both try to upgrade to a
    write lock, and one fails at once with "database is locked" whatever the busy timeout.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
