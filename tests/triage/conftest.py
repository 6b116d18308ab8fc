"""Fixtures for triage tests: databases (SQLite file and a throwaway PostgreSQL database),
contacts, officers, and a console/API server.

PostgreSQL: one database `frontdoor_triage_<random>` per test session on 127.0.0.1:5432
(trust auth, user postgres; FRONTDOOR_TEST_PG_* override), migrated once, truncated before
each test, dropped at the end; started first if it is not running (tests/support).
If PostgreSQL cannot be reached the PostgreSQL tests fail; they never skip.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pyotp
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from argon2 import PasswordHasher
from sqlalchemy import text

from bot.settings import Settings
from flows.events import EventBus
from profiles import load_profile
from storage.db import Database
from storage.migrate import upgrade_sync
from storage.models import Contact
from storage.repo import create_contact
from storage.types import utcnow
from tests.support.databases import PG_HOST, PG_PORT, PG_USER, ensure_postgres
from triage import accounts, passwords, tokens
from triage import web as triage_web

PG_ADMIN_DSN = f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/postgres"
PASSWORD = "Correct-Horse-9!"
TABLES = ("officer_sessions", "api_tokens", "officers", "consent_records", "turns", "contacts",
          "outbox", "audit_events", "inbox", "conversations", "blocked_senders",
          "sender_notices", "safeguarding_holds")


async def _pg_admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def in_thread(func: Any, *args: Any) -> Any:
    """Run blocking set-up (which may call asyncio.run) outside the test's event loop."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(func, *args).result()


def _admin(sql: str) -> None:
    in_thread(asyncio.run, _pg_admin(sql))


@pytest.fixture(autouse=True)
def fast_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheap argon2 parameters in tests; production keeps the library's defaults."""
    monkeypatch.setattr(passwords, "_hasher",
                        PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A migrated throwaway PostgreSQL database for this test session."""
    in_thread(ensure_postgres)  # starts the local cluster on a clean CI machine
    name = f"frontdoor_triage_{secrets.token_hex(6)}"
    _admin(f'CREATE DATABASE "{name}"')
    url = f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
    try:
        in_thread(upgrade_sync, url)
        yield url
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("triage-db") / "template.sqlite3"
    in_thread(upgrade_sync, f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "frontdoor.sqlite3"
    shutil.copy(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


async def _truncate(db: Database) -> None:
    async with db.transaction() as session:
        await session.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))


@pytest_asyncio.fixture(params=["sqlite", "postgres"])
async def db(request: pytest.FixtureRequest) -> AsyncIterator[Database]:
    """Each storage test runs on SQLite and on real PostgreSQL."""
    if request.param == "postgres":
        database = Database(request.getfixturevalue("pg_url"))
        await _truncate(database)
    else:
        database = Database(request.getfixturevalue("sqlite_url"))
    try:
        yield database
    finally:
        await database.dispose()


@pytest_asyncio.fixture
async def sqlite_db(sqlite_url: str) -> AsyncIterator[Database]:
    database = Database(sqlite_url)
    try:
        yield database
    finally:
        await database.dispose()


@pytest_asyncio.fixture
async def pg_db(pg_url: str) -> AsyncIterator[Database]:
    database = Database(pg_url)
    await _truncate(database)
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
def profile() -> Any:
    return load_profile("hillingdon")


async def add_contact(db: Database, *, urgency: str = "standard", rag: str | None = None,
                      age_minutes: float = 0, chat: str | None = "100200300",
                      channel: str = "telegram", **fields: Any) -> Contact:
    created = utcnow() - timedelta(minutes=age_minutes)
    values: dict[str, Any] = {
        "source": "parent_carer",
        "journey": "self_referral",
        "channel": channel,
        "chat": chat,
        "urgency": urgency,
        "rag": rag,
        "created_at": created,
        "language": "en",
        "locality": "south_east",
        "complete": True,
        "handover": {"journey": "self_referral", "sections": []},
    }
    values.update(fields)
    async with db.transaction() as session:
        return await create_contact(session, prefix="SFH", **values)


@dataclass
class OfficerLogin:
    username: str
    password: str
    secret: str
    role: str

    def code(self, offset_steps: int = 0) -> str:
        totp = pyotp.TOTP(self.secret)
        return totp.at(datetime.now().timestamp() + 30 * offset_steps)


async def add_officer(db: Database, username: str, role: str = "officer",
                      password: str = PASSWORD) -> OfficerLogin:
    async with db.transaction() as session:
        enrolment = await accounts.add(session, username=username, display_name=username.title(),
                                       role=role, password=password, actor="test", now=utcnow())
    return OfficerLogin(username, password, enrolment.totp_secret, role)


async def add_token(db: Database, name: str, scopes: list[str]) -> str:
    async with db.transaction() as session:
        return await tokens.create(session, name=name, scopes=scopes, actor="test", now=utcnow())


def make_app(db: Database, bus: EventBus, settings: Settings | None = None) -> web.Application:
    app = web.Application()

    async def healthz(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app.router.add_get("/healthz", healthz)
    triage_web.setup(app, db=db, profile=load_profile("hillingdon"), bus=bus,
                     settings=settings or Settings(alert_chat_id="-100999"),
                     cookie_secure=False)
    return app


@pytest_asyncio.fixture
async def bus() -> EventBus:
    return EventBus()


@pytest_asyncio.fixture
async def client(sqlite_db: Database, bus: EventBus) -> AsyncIterator[TestClient[Any, Any]]:
    server = TestServer(make_app(sqlite_db, bus))
    async with TestClient(server) as test_client:
        yield test_client


def csrf_from(html: str) -> str:
    marker = 'name="csrf_token" value="'
    start = html.index(marker) + len(marker)
    return html[start:html.index('"', start)]


async def login(client: TestClient[Any, Any], officer: OfficerLogin,
                offset_steps: int = 0) -> str:
    """Sign in with password and TOTP; returns the CSRF token of the signed-in session."""
    page = await client.get("/console/login")
    token = csrf_from(await page.text())
    response = await client.post("/console/login", data={
        "username": officer.username, "password": officer.password, "csrf_token": token,
        "next": "/console/"})
    assert response.status == 200, await response.text()
    assert "/console/2fa" in str(response.url)
    token = csrf_from(await response.text())
    response = await client.post("/console/2fa", data={
        "code": officer.code(offset_steps), "csrf_token": token, "next": "/console/"})
    body = await response.text()
    assert response.status == 200, body
    assert str(response.url).endswith("/console/"), response.url
    return csrf_from(body)
