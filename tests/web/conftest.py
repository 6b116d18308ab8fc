"""Web chat fixtures: an in-process server on 127.0.0.1 over a real, migrated database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.databases import SqliteTemplate
from tests.web.support import WebServer, WebUser, start_server


@pytest.fixture
async def server(db_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[WebServer]:
    """On SQLite and on PostgreSQL (the `db_url` parametrisation)."""
    running = await start_server(db_url, monkeypatch, rate=100.0)
    yield running
    await running.close()


@pytest.fixture
async def sqlite_server(
    sqlite_template: SqliteTemplate, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[WebServer]:
    running = await start_server(sqlite_template.copy(tmp_path), monkeypatch, rate=100.0)
    yield running
    await running.close()


@pytest.fixture
async def limited_server(
    sqlite_template: SqliteTemplate, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[WebServer]:
    """The production message rate limit (5 at once, 5 a second)."""
    running = await start_server(sqlite_template.copy(tmp_path), monkeypatch)
    yield running
    await running.close()


@pytest.fixture
async def user(sqlite_server: WebServer) -> AsyncIterator[WebUser]:
    person = WebUser(sqlite_server)
    yield person
    await person.close()


@pytest.fixture
async def any_db_user(server: WebServer) -> AsyncIterator[WebUser]:
    """A person on the `server` fixture (SQLite and PostgreSQL)."""
    person = WebUser(server)
    yield person
    await person.close()


def texts(replies: list[dict[str, Any]]) -> str:
    return "\n".join(r["text"] for r in replies)


@pytest.fixture
async def limited_user(limited_server: WebServer) -> AsyncIterator[WebUser]:
    person = WebUser(limited_server)
    yield person
    await person.close()
