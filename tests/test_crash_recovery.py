"""Crash safety: SIGKILL the bot mid-conversation; it resumes at the same question."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from storage.db import Database
from storage.models import ConsentRecord, Contact
from tests.support.botproc import BotProcess, TelegramUser
from tests.support.chat import PARENT_JOURNEY

pytestmark = pytest.mark.slow


async def counts(url: str) -> dict[str, int]:
    db = Database(url)
    try:
        async with db.transaction() as session:
            return {name: await session.scalar(select(func.count()).select_from(model))
                    for name, model in (("contacts", Contact), ("consents", ConsentRecord))}
    finally:
        await db.dispose()


async def test_kill_mid_conversation_resumes_at_the_same_question(db_url, fake, tmp_path):
    user = TelegramUser(fake, 777)
    first = BotProcess(db_url, fake.base_url, tmp_path / "bot1.log")
    await first.start()
    await user.play(PARENT_JOURNEY[:8])  # asked: Amy's school
    assert "Which school" in user.last["text"]
    # A message arrives and the process is killed before it can possibly finish.
    fake.push_text(777, "Oak Farm Primary")
    first.kill()
    second = BotProcess(db_url, fake.base_url, tmp_path / "bot2.log")
    await second.start()
    try:
        await fake.wait_for(lambda: "another child" in user.last["text"], timeout=20)
        replies = await user.play(PARENT_JOURNEY[9:])
        assert "Please check" in replies[-1]["text"]
        assert "Amy, 14/03/2016 (age" in replies[-1]["text"]
        assert "Oak Farm Primary" in replies[-1]["text"]
        await user.click("submit")
    finally:
        await second.stop()
    numbers = await counts(db_url)
    assert numbers["contacts"] == 1 and numbers["consents"] == 1
    asked_school = [t for t in user.sent() if "Which school" in t["text"]]
    assert len(asked_school) == 1  # nothing was asked or answered twice
