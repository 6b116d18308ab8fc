"""The real bot process over real HTTP against a local fake Telegram Bot API.

One bot process serves the whole module (per database); each test is its own Telegram user.
"""

from __future__ import annotations

import asyncio
import copy

import pytest
import pytest_asyncio
from sqlalchemy import func, select

from storage.db import Database
from storage.models import ConsentRecord, Contact, Conversation, InboxItem
from tests.fake_bot_api import FakeBotAPI
from tests.support.botproc import BotProcess, SharedBot, TelegramUser
from tests.support.buttons import offered
from tests.support.chat import PARENT_JOURNEY

pytestmark = [pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared(module_db_url, tmp_path_factory):
    async with FakeBotAPI() as fake:
        process = BotProcess(module_db_url, fake.base_url,
                             tmp_path_factory.mktemp("bot") / "bot.log")
        await process.start()
        try:
            yield SharedBot(module_db_url, fake, process)
        finally:
            await process.stop()


async def rows(url: str, chat: str) -> dict[str, int]:
    """This chat's rows only: other tests share the database."""
    db = Database(url)
    try:
        async with db.transaction() as session:
            conv = await session.scalar(select(Conversation).where(Conversation.chat == chat))
            return {
                "contacts": await session.scalar(select(func.count()).select_from(Contact)
                                                 .where(Contact.chat == chat)),
                "inbox": await session.scalar(select(func.count()).select_from(InboxItem)
                                              .where(InboxItem.chat == chat)),
                "run": conv.run if conv else 0,
            }
    finally:
        await db.dispose()


async def test_a_parent_completes_a_self_referral_on_telegram(shared):
    fake = shared.fake
    user = TelegramUser(fake, 4242)
    replies = await user.play(PARENT_JOURNEY)
    assert "Please check what you've told me" in replies[-1]["text"]
    replies = await user.click("submit")
    assert "Your reference is SFH-" in replies[-1]["text"]
    db = Database(shared.db_url)
    async with db.transaction() as session:
        contact = await session.scalar(select(Contact).where(Contact.chat == "4242"))
        consent = await session.scalar(select(ConsentRecord).where(
            ConsentRecord.contact_id == contact.id))
    await db.dispose()
    assert contact.channel == "telegram" and contact.chat == "4242" and contact.complete
    assert contact.reference in replies[-1]["text"]
    assert consent.contact_id == contact.id and consent.referral_consent == "yes"
    # The command menu was set, and pressed buttons were answered and taken away, so an
    # answered question can't be answered again by mistake.
    assert any(c["command"] == "delete" for c in fake.commands())
    pressed = {c["message_id"] for c in fake.callbacks_answered if c["chat_id"] == 4242}
    assert pressed

    def pressed_questions_without_buttons() -> bool:
        return not any(m.get("reply_markup") for m in fake.messages(4242)
                       if m["message_id"] in pressed)

    await fake.wait_for(pressed_questions_without_buttons, timeout=10)


async def test_a_double_tap_on_a_button_answers_one_question(shared):
    # PARENT_JOURNEY[14] and [15]: two questions in a row answered "No". Both taps of a
    # double tap reach the bot before it takes the first question's buttons away.
    fake = shared.fake
    user = TelegramUser(fake, 7117)
    await user.play(PARENT_JOURNEY[:14])
    assert PARENT_JOURNEY[14] == PARENT_JOURNEY[15] == ("click", "no")
    first = user.last
    tapped = offered(first)["no"]
    before = len(user.sent())
    for _ in range(2):
        fake.push_callback(7117, tapped, message_id=first["message_id"])
    await fake.wait_for(lambda: len(user.sent()) >= before + 2, timeout=20)
    await asyncio.sleep(1.0)  # anything more would be a reply too many
    second, again = (m["text"] for m in user.sent()[before:])
    assert second != first["text"]
    assert "That button belongs to an earlier question" in again and second in again
    assert offered(user.last)["no"] != tapped  # the current question's own buttons


async def test_the_same_update_delivered_twice_changes_the_database_once(shared):
    fake = shared.fake
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
    before = await rows(shared.db_url, "9001")
    fake.push_raw(copy.deepcopy(update))
    await user.say("Start")  # a later message proves the duplicate was consumed
    after = await rows(shared.db_url, "9001")
    assert after["inbox"] == before["inbox"] + 1
    assert sum("what you can do" in m["text"] for m in user.sent()) == 1


async def test_stickers_photos_voice_and_edits_get_a_kind_reply(shared):
    fake = shared.fake
    user = TelegramUser(fake, 31337)
    await user.command("start")
    for push in (fake.push_sticker, fake.push_photo, fake.push_voice, fake.push_document):
        before = len(user.sent())
        push(31337)
        await fake.wait_for_sent(31337, before + 1, methods=["sendMessage"], timeout=20)
        assert "only read typed messages" in user.last["text"]
    assert "Start" in str(user.last.get("reply_markup"))


async def test_rate_limits_and_server_errors_do_not_lose_replies(shared):
    fake = shared.fake
    user = TelegramUser(fake, 6060)
    fake.fail_next("sendMessage", status=429, times=1, retry_after=1)
    await user.command("start")
    assert "Hello" in user.last["text"]
    fake.fail_next("sendMessage", status=502, times=2)
    await user.click("start")
    assert "Who are you?" in user.last["text"]
    await asyncio.sleep(0.5)
    assert sum("Who are you?" in m["text"] for m in user.sent()) == 1
