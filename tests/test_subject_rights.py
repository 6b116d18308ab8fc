"""A person's data rights through `frontdoor people`: subject access export and erasure,
honouring a safeguarding hold. Runs the real command against a real database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from storage.models import Contact, Conversation, Turn
from tests.support.chat import PARENT_JOURNEY, Chat, play

ROOT = Path(__file__).resolve().parents[1]


def people(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot.cli", "people", *args], cwd=ROOT,
                          env={**os.environ, "DATABASE_URL": db_url}, capture_output=True,
                          text=True, timeout=120, check=True)


async def test_export_then_erase_keeps_only_what_safeguarding_holds(db, db_url):
    chat = Chat(db, chat="777")
    await play(chat, PARENT_JOURNEY)
    await chat.click("submit")
    await chat.command("start")
    await play(chat, PARENT_JOURNEY[1:])
    await chat.click("submit")
    first, second = await chat.contacts()
    async with db.transaction() as session:
        held = await session.get(Contact, first.id)
        held.safeguarding_hold = True

    exported = json.loads(people(db_url, "export", "--channel", "test", "--chat", "777").stdout)
    assert {r["reference"] for r in exported["requests"]} == {first.reference, second.reference}
    assert any("Maria" in m["text"] for m in exported["messages"])

    result = people(db_url, "erase", "--channel", "test", "--chat", "777", "--yes").stdout
    assert second.reference in result and f"safeguarding_hold): {first.reference}" in result
    async with db.transaction() as session:
        left = [c.reference for c in (await session.scalars(select(Contact))).all()]
        conversations = await session.scalar(select(func.count()).select_from(Conversation))
        turns = await session.scalar(select(func.count()).select_from(Turn))
    assert left == [first.reference] and conversations == 0 and turns == 0
