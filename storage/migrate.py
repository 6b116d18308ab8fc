"""Run Alembic migrations from code (the `frontdoor db upgrade` command and start-up)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config

from storage.db import ensure_sqlite_directory

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade_sync(url: str, revision: str = "head") -> None:
    ensure_sqlite_directory(url)
    command.upgrade(alembic_config(url), revision)


async def upgrade(url: str, revision: str = "head") -> None:
    """Alembic's env runs its own event loop, so it runs in a worker thread here."""
    await asyncio.to_thread(upgrade_sync, url, revision)
