"""Resume codes in the database (SQLite and PostgreSQL): digest only, expiry, renewal, purge."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select, update

import storage.web  # noqa: F401 - the model must be on Base.metadata
from bot.web import resume
from storage.db import Database
from storage.models import Base, Conversation
from storage.types import utcnow
from storage.web import WebResumeCode


def _diff(connection: Any) -> list[Any]:
    diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    return [d for d in diff if "web_resume_codes" in repr(d)]


async def test_migration_0003_matches_the_model(db: Database) -> None:
    async with db.engine.connect() as connection:
        assert await connection.run_sync(_diff) == []


async def _conversation(db: Database, chat: str) -> None:
    async with db.transaction() as session:
        session.add(Conversation(channel="web", chat=chat, language="en", state={}, run=1))


async def test_codes_open_their_chat_until_they_expire(db: Database) -> None:
    chat = resume.chat_key(resume.new_token())
    await _conversation(db, chat)
    first = await resume.issue(db, chat, days=30)
    code = await resume.issue(db, chat, days=30)  # a new code replaces the old one
    assert await resume.redeem(db, first, 30) is None
    assert await resume.redeem(db, code, 30) == chat
    async with db.transaction() as session:
        row = await session.scalar(select(WebResumeCode))
        assert row is not None and row.code_hash == resume.digest(code)
        assert row.expires_at > utcnow() + timedelta(days=29)  # renewed on use
        await session.execute(
            update(WebResumeCode).values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert await resume.redeem(db, code, 30) is None
    assert await resume.purge(db) == 1


async def test_a_code_for_a_deleted_conversation_opens_nothing(db: Database) -> None:
    chat = resume.chat_key(resume.new_token())
    code = await resume.issue(db, chat, days=30)  # no conversation (deleted or expired)
    assert await resume.redeem(db, code, 30) is None
    async with db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(WebResumeCode)) == 0
