"""Run Alembic migrations from code (the `frontdoor db upgrade` command and start-up).

At start-up the migration runs in a short-lived child process (`python -m storage.migrate`):
Alembic, Mako and Pygments are about 15 MB that a long-running worker would otherwise hold for
the rest of its life, and Alembic's env runs its own event loop anyway.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from storage.crypto import DataKeyError
from storage.db import ensure_sqlite_directory

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
URL_VARIABLE = "FRONTDOOR_MIGRATE_URL"  # the URL goes by environment, never on a command line
DATA_KEY_EXIT = 2


class MigrationError(RuntimeError):
    """The migration child failed; its own error is in the log above (stderr is shared)."""


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade_sync(url: str, revision: str = "head") -> None:
    from alembic import command

    ensure_sqlite_directory(url)
    command.upgrade(alembic_config(url), revision)


async def upgrade(url: str, revision: str = "head") -> None:
    """Migrate in a child process; a missing or wrong data key comes back as DataKeyError."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "storage.migrate", revision,
        env={**os.environ, URL_VARIABLE: url}, stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await proc.communicate()
    if proc.returncode == 0:
        return
    if proc.returncode == DATA_KEY_EXIT:
        with_message = [line for line in out.decode(errors="replace").splitlines()
                        if line.startswith("{")]
        if with_message:
            raise DataKeyError(json.loads(with_message[-1])["data_key_error"])
    raise MigrationError(f"the database migration failed (exit status {proc.returncode}); "
                         "its error is in the log above")


def main(argv: list[str]) -> int:
    """The child: migrate the database in FRONTDOOR_MIGRATE_URL to argv[0] (default head)."""
    # Drivers log statements and their arguments below WARNING: only Alembic's own steps show.
    logging.basicConfig(level=logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("alembic.runtime.migration").setLevel(logging.INFO)
    try:
        upgrade_sync(os.environ[URL_VARIABLE], argv[0] if argv else "head")
    except DataKeyError as exc:
        print(json.dumps({"data_key_error": str(exc)}), flush=True)
        return DATA_KEY_EXIT
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
