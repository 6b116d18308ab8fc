"""Shared fixtures: real SQLite and PostgreSQL databases, migrated by Alembic."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from storage.db import Database
from tests.fake_bot_api import FakeBotAPI
from tests.support.botproc import BotProcess
from tests.support.databases import PostgresTemplate, SqliteTemplate

# A fixed data key (encryption at rest), set at import, before any database is opened: every
# test and every bot process a test starts (they inherit os.environ) reads the same data.
TEST_DATA_KEY = "M4NAeEf4IJT6U7UOIQaVL2ECFk76kUZXnR_30WDOsw4="
os.environ["FRONTDOOR_DATA_KEYS"] = TEST_DATA_KEY


@pytest.fixture(scope="session")
def pg_template() -> Iterator[PostgresTemplate]:
    template = PostgresTemplate()
    yield template
    template.close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> SqliteTemplate:
    return SqliteTemplate(tmp_path_factory.mktemp("sqlite-template"))


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A freshly migrated database URL, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield request.getfixturevalue("sqlite_template").copy(tmp_path)
        return
    template: PostgresTemplate = request.getfixturevalue("pg_template")
    url = template.copy()
    yield url
    template.drop(url)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def module_db_url(request: pytest.FixtureRequest,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One migrated database per test module and backend, for a shared bot process."""
    if request.param == "sqlite":
        yield request.getfixturevalue("sqlite_template").copy(tmp_path_factory.mktemp("db"))
        return
    template: PostgresTemplate = request.getfixturevalue("pg_template")
    url = template.copy()
    yield url
    template.drop(url)


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    """A local fake Telegram Bot API on loopback."""
    async with FakeBotAPI() as api:
        yield api


@pytest.fixture
async def bot(db_url: str, fake: FakeBotAPI, tmp_path: Path) -> AsyncIterator[BotProcess]:
    """The real `frontdoor run` process, polling the fake Bot API."""
    process = BotProcess(db_url, fake.base_url, tmp_path / "bot.log")
    await process.start()
    yield process
    await process.stop()


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = Database(db_url)
    yield database
    await database.dispose()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI a skipped test is a failure: a skipped PostgreSQL or browser test hides bugs."""
    import os

    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if os.environ.get("CI") and skipped and exitstatus == 0:
        session.exitstatus = 1
        if reporter:
            reporter.write_line(f"FAILED: {skipped} test(s) skipped in CI; nothing may be skipped")
