"""The bot's Bot API calls go as one JSON body (bot/telegram_session.py), against the fake.

What a person would notice if this broke: buttons missing from a question, a message not
arriving, or a rate limit from Telegram no longer turned into a wait and a retry.
"""

from __future__ import annotations

from typing import Any

import pytest
from aiogram import Bot, methods
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import BufferedInputFile, InlineKeyboardButton, InlineKeyboardMarkup

from bot.telegram import keyboard
from bot.telegram_session import JsonAiohttpSession, call_unread
from flows.types import Choice
from tests.fake_bot_api import DEFAULT_TOKEN, FakeBotAPI

CHAT = 4242


@pytest.fixture
async def fake():
    async with FakeBotAPI() as server:
        yield server


@pytest.fixture
async def bot(fake: FakeBotAPI):
    bot = Bot(DEFAULT_TOKEN, session=JsonAiohttpSession(
        api=TelegramAPIServer.from_base(fake.base_url)))
    yield bot
    await bot.session.close()


async def test_a_question_with_buttons_arrives_whole(fake: FakeBotAPI, bot: Bot) -> None:
    fake.push_text(CHAT, "hello")  # the chat exists once the person has written
    markup = InlineKeyboardMarkup(inline_keyboard=[
        [InlineKeyboardButton(text="Yes", callback_data="yes")],
        [InlineKeyboardButton(text="Not now — later", callback_data="later")],
    ])
    sent = await bot.send_message(CHAT, "Can we call you back? «ok»", reply_markup=markup)
    assert sent.text == "Can we call you back? «ok»"
    [record] = fake.sent(CHAT, ("sendMessage",))
    assert record["plain_text"] == "Can we call you back? «ok»"
    buttons = [b["callback_data"] for row in record["reply_markup"]["inline_keyboard"]
               for b in row]
    assert buttons == ["yes", "later"]


async def test_the_body_holds_json_values(bot: Bot) -> None:
    session = bot.session
    assert isinstance(session, JsonAiohttpSession)
    body = session.build_json(bot, methods.SendMessage(
        chat_id=CHAT, text="hi", disable_notification=False))
    assert body is not None
    assert body["chat_id"] == CHAT and body["text"] == "hi"
    assert body["disable_notification"] is False  # kept, not dropped as a falsy form value
    assert "reply_markup" not in body  # None is left out


async def test_an_upload_still_goes_as_a_form(bot: Bot) -> None:
    session = bot.session
    assert isinstance(session, JsonAiohttpSession)
    method = methods.SendDocument(
        chat_id=CHAT, document=BufferedInputFile(b"data", filename="a.txt"))
    assert session.build_json(bot, method) is None


async def test_telegram_errors_keep_their_meaning(fake: FakeBotAPI, bot: Bot) -> None:
    fake.push_text(CHAT, "hello")
    fake.fail_next("sendMessage", status=429, retry_after=3)
    with pytest.raises(TelegramRetryAfter) as waited:
        await bot.send_message(CHAT, "one")
    assert waited.value.retry_after == 3
    with pytest.raises(TelegramBadRequest):
        await bot.send_message(CHAT, "")  # empty text is refused by the Bot API
    await bot.send_message(CHAT, "two")
    assert [r["plain_text"] for r in fake.sent(CHAT, ("sendMessage",))] == ["two"]


async def test_a_call_whose_answer_is_unread_still_raises_telegrams_errors(
        fake: FakeBotAPI, bot: Bot) -> None:
    fake.push_text(CHAT, "hello")
    await call_unread(bot, methods.SendMessage, chat_id=CHAT, text="one")
    fake.fail_next("sendMessage", status=429, retry_after=4)
    with pytest.raises(TelegramRetryAfter) as waited:
        await call_unread(bot, methods.SendMessage, chat_id=CHAT, text="two")
    assert waited.value.retry_after == 4
    with pytest.raises(TelegramBadRequest):
        await call_unread(bot, methods.SendMessage, chat_id=CHAT, text="")
    fake.fail_next("sendMessage", status=502)
    with pytest.raises(TelegramServerError):
        await call_unread(bot, methods.SendMessage, chat_id=CHAT, text="three")
    assert [r["plain_text"] for r in fake.sent(CHAT, ("sendMessage",))] == ["one"]


async def test_a_network_failure_of_an_unread_call_is_aiograms_error(bot: Bot) -> None:
    dead = Bot(DEFAULT_TOKEN, session=JsonAiohttpSession(
        api=TelegramAPIServer.from_base("http://127.0.0.1:9")))  # nothing listens there
    try:
        with pytest.raises(TelegramNetworkError) as failed:
            await call_unread(dead, methods.SendMessage, chat_id=CHAT, text="hi")
    finally:
        await dead.session.close()
    assert isinstance(failed.value.method, methods.SendMessage)


async def test_buttons_sent_as_json_are_the_ones_aiogram_would_send(bot: Bot) -> None:
    session = bot.session
    assert isinstance(session, JsonAiohttpSession)
    choices = (Choice("yes", "Yes"), Choice("later", "Not now — later " + "x" * 80))
    by_aiogram = session.build_json(bot, methods.SendMessage(
        chat_id=CHAT, text="q", reply_markup=InlineKeyboardMarkup(inline_keyboard=[
            [InlineKeyboardButton(text=c.label[:64], callback_data=c.id)] for c in choices])))
    assert by_aiogram is not None and by_aiogram["reply_markup"] == keyboard(choices)


async def test_an_unread_call_goes_through_the_sessions_middlewares(
        fake: FakeBotAPI, bot: Bot) -> None:
    seen: list[str] = []

    async def record(make_request: Any, bot_: Bot, method: Any) -> Any:
        seen.append(method.__api_method__)
        return await make_request(bot_, method)

    bot.session.middleware(record)
    fake.push_text(CHAT, "hello")
    await call_unread(bot, methods.SendMessage, chat_id=CHAT, text="hi")
    assert seen == ["sendMessage"]
