"""The real bot process over real HTTP against a local fake Telegram Bot API."""

from __future__ import annotations

import asyncio
import copy

import pytest
from sqlalchemy import func, select

from storage.db import Database
from storage.models import ConsentRecord, Contact, InboxItem, Turn
from tests.fake_bot_api import FakeBotAPI
from tests.support.botproc import BotProcess, TelegramUser
from tests.support.chat import PARENT_JOURNEY

pytestmark = pytest.mark.slow


@pytest.fixture
async def fake():
    async with FakeBotAPI() as api:
        yield api


@pytest.fixture
async def bot(db_url, fake, tmp_path):
    process = BotProcess(db_url, fake.base_url, tmp_path / "bot.log")
    await process.start()
    yield process
    await process.stop()


async def counts(url: str) -> dict[str, int]:
    db = Database(url)
    try:
        async with db.transaction() as session:
            return {
                name: await session.scalar(select(func.count()).select_from(model))
                for name, model in (("contacts", Contact), ("consents", ConsentRecord),
                                    ("turns", Turn), ("inbox", InboxItem))
            }
    finally:
        await db.dispose()


async def test_a_parent_completes_a_self_referral_on_telegram(db_url, fake, bot):
    user = TelegramUser(fake, 4242)
    replies = await user.play(PARENT_JOURNEY)
    assert "Please check what you've told me" in replies[-1]["text"]
    replies = await user.click("submit")
    assert "Your reference is SFH-" in replies[-1]["text"]
    db = Database(db_url)
    async with db.transaction() as session:
        contact = await session.scalar(select(Contact))
        consent = await session.scalar(select(ConsentRecord))
    await db.dispose()
    assert contact.channel == "telegram" and contact.chat == "4242" and contact.complete
    assert contact.reference in replies[-1]["text"]
    assert consent.contact_id == contact.id and consent.referral_consent == "yes"
    # The command menu was set, and pressed buttons were answered.
    assert any(c["command"] == "delete" for c in fake.commands())
    assert fake.callbacks_answered()


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


async def test_the_same_update_delivered_twice_changes_the_database_once(db_url, fake, bot):
    user = TelegramUser(fake, 9001)
    await user.command("start")
    update = {
        "update_id": 555_555,
        "message": {
            "message_id": 9, "date": 1_700_000_000, "text": "/help",
            "chat": {"id": 9001, "type": "private", "first_name": "Sam"},
            "from": {"id": 9001, "is_bot": False, "first_name": "Sam", "language_code": "en"},
            "entities": [{"type": "bot_command", "offset": 0, "length": 5}],
        },
    }
    fake.push_raw(copy.deepcopy(update))
    await fake.wait_for(lambda: "what you can do" in user.last["text"], timeout=20)
    before = await counts(db_url)
    fake.push_raw(copy.deepcopy(update))
    await user.say("Start")  # a later message proves the duplicate was consumed
    after = await counts(db_url)
    assert after["inbox"] == before["inbox"] + 1
    assert sum("what you can do" in m["text"] for m in user.sent()) == 1


async def test_stickers_photos_voice_and_edits_get_a_kind_reply(db_url, fake, bot):
    user = TelegramUser(fake, 31337)
    await user.command("start")
    for push in (fake.push_sticker, fake.push_photo, fake.push_voice, fake.push_document):
        before = len(user.sent())
        push(31337)
        await fake.wait_for_sent(31337, before + 1, methods=["sendMessage"], timeout=20)
        assert "only read typed messages" in user.last["text"]
    assert "Start" in str(user.last.get("reply_markup"))


async def test_rate_limits_and_server_errors_do_not_lose_replies(db_url, fake, bot):
    user = TelegramUser(fake, 6060)
    fake.fail_next("sendMessage", status=429, times=1, retry_after=1)
    await user.command("start")
    assert "Hello" in user.last["text"]
    fake.fail_next("sendMessage", status=502, times=2)
    await user.click("start")
    assert "Who are you?" in user.last["text"]
    await asyncio.sleep(0.5)
    assert sum("Who are you?" in m["text"] for m in user.sent()) == 1
