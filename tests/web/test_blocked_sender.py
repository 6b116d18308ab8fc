"""A blocked web chat, over the real websocket, on SQLite and PostgreSQL: the person is told
kindly once, nothing reaches the journey, and a danger disclosure still does."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from storage import abuse
from storage.models import Contact, Conversation, Turn
from storage.types import utcnow
from tests.web.support import WebServer, WebUser


async def test_a_blocked_web_chat_is_told_once_and_danger_still_gets_through(
    server: WebServer, any_db_user: WebUser
) -> None:
    user = any_db_user
    await user.connect()
    await user.command("start")
    db = server.runtime.db
    async with db.transaction() as session:
        conv = await session.scalar(select(Conversation).where(Conversation.channel == "web"))
        assert conv is not None
        await abuse.block(session, channel="web", chat=conv.chat, reason="Abusive messages",
                          actor="mona", now=utcnow())
        turns = await session.scalar(select(func.count()).select_from(Turn))

    [notice] = await user.say("hello")
    assert "paused messages from this chat" in notice["text"]
    assert "999" in notice["text"] and "01895 556006" in notice["text"]
    before = len(user.frames)
    await user.send({"type": "text", "text": "are you there", "id": "quiet1"})
    await user.wait_for("received", after=before)
    await asyncio.sleep(0.5)
    assert user.replies(before) == []  # told once an hour, not on every message
    async with db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(Turn)) == turns

    replies = await user.say("He said he will kill himself tonight")
    assert "emergency" in replies[0]["flags"] and "999" in replies[0]["text"]
    async with db.transaction() as session:
        contact = await session.scalar(select(Contact).where(Contact.channel == "web"))
    assert contact is not None and contact.urgency == "immediate"
