"""Real databases for tests: a migrated SQLite file and a migrated PostgreSQL database.

PostgreSQL is started if it is not answering (CI runs on a clean machine). If it still can't
be reached the test FAILS: a skipped PostgreSQL test would hide exactly the bugs it exists for.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import asyncpg

from storage.migrate import upgrade_sync

PG_HOST = os.environ.get("FRONTDOOR_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("FRONTDOOR_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("FRONTDOOR_TEST_PG_USER", "postgres")


def pg_url(database: str, driver: str = "postgresql+asyncpg") -> str:
    return f"{driver}://{PG_USER}@{PG_HOST}:{PG_PORT}/{database}"


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database="postgres",
                                 timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _answering() -> bool:
    try:
        asyncio.run(_admin("SELECT 1"))
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    return True


def ensure_postgres() -> None:
    """Start the local cluster if needed; raise with an exact message if it can't be had."""
    if _answering():
        return
    clusters = Path("/etc/postgresql")
    if shutil.which("pg_ctlcluster") and clusters.is_dir():
        for version in sorted(p.name for p in clusters.iterdir()):
            subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main",
                            "start"], check=False, capture_output=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if _answering():
                return
            time.sleep(0.5)
    raise RuntimeError(f"PostgreSQL is not answering on {PG_HOST}:{PG_PORT} and could not be "
                       "started; PostgreSQL tests cannot run")


class PostgresTemplate:
    """One migrated template database per test session; each test gets a fast copy."""

    def __init__(self) -> None:
        ensure_postgres()
        self.name = f"fd_tpl_{uuid.uuid4().hex[:10]}"
        asyncio.run(_admin(f'CREATE DATABASE "{self.name}"'))
        upgrade_sync(pg_url(self.name))
        self.copies: list[str] = []

    def copy(self) -> str:
        name = f"fd_t_{uuid.uuid4().hex[:12]}"
        asyncio.run(_admin(f'CREATE DATABASE "{name}" TEMPLATE "{self.name}"'))
        self.copies.append(name)
        return pg_url(name)

    def drop(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def close(self) -> None:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))


class SqliteTemplate:
    def __init__(self, directory: Path) -> None:
        self.path = directory / "template.sqlite3"
        upgrade_sync(f"sqlite+aiosqlite:///{self.path}")

    def copy(self, directory: Path) -> str:
        target = directory / f"fd-{uuid.uuid4().hex[:8]}.sqlite3"
        shutil.copyfile(self.path, target)
        return f"sqlite+aiosqlite:///{target}"
