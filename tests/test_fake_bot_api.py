"""Tests for the fake Telegram Bot API, driven by a real aiogram 3 ``Bot`` over HTTP.

Why: the fake is only useful if aiogram behaves against it exactly as against
Telegram (same requests, same parsed responses, same exception classes).
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import pytest_asyncio
from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.filters import CommandStart
from aiogram.methods import TelegramMethod
from aiogram.types import (
    BotCommand,
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    MenuButtonWebApp,
    Message,
    WebAppInfo,
)
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import ClientSession, FormData, web

if (
    TYPE_CHECKING
):  # pragma: no cover  # one module name for mypy, which sees tests/ as a plain directory
    from fake_bot_api import DEFAULT_TOKEN, ApiError, FakeBotAPI, render_text
else:
    try:  # works whether or not tests/ becomes a package
        from tests.fake_bot_api import DEFAULT_TOKEN, ApiError, FakeBotAPI, render_text
    except ImportError:  # pragma: no cover
        from fake_bot_api import DEFAULT_TOKEN, ApiError, FakeBotAPI, render_text

USER = 5_550_001
KEYBOARD = InlineKeyboardMarkup(
    inline_keyboard=[
        [
            InlineKeyboardButton(text="Yes", callback_data="consent:yes"),
            InlineKeyboardButton(text="No", callback_data="consent:no"),
        ],
        [InlineKeyboardButton(text="Website", url="https://example.org/help")],
    ]
)


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI(webhook_retry_delay=0.01) as api:
        yield api


def make_bot(base_url: str, token: str = DEFAULT_TOKEN) -> Bot:
    return Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(base_url)))


@pytest_asyncio.fixture
async def bot(fake: FakeBotAPI) -> AsyncIterator[Bot]:
    client = make_bot(fake.base_url)
    yield client
    await client.session.close()


class Receiver:
    """A tiny webhook endpoint that records what the fake POSTs to it."""

    def __init__(self, fail_first: int = 0) -> None:
        self.calls: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.fail_first = fail_first
        self.app = web.Application()
        self.app.router.add_post("/hook", self.handle)
        self.runner = web.AppRunner(self.app)
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.calls.append((dict(request.headers), await request.json()))
        if len(self.calls) <= self.fail_first:
            return web.Response(status=500, text="boom")
        return web.json_response({})

    async def start(self) -> str:
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}/hook"
        return self.url

    async def stop(self) -> None:
        await self.runner.cleanup()


def dumps(models: list[BotCommand]) -> list[dict[str, Any]]:
    return [m.model_dump() for m in models]


async def start_app(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


# ------------------------------------------------------------------------ basics


@pytest.mark.asyncio
async def test_get_me_matches_token(fake: FakeBotAPI, bot: Bot) -> None:
    me = await bot.get_me()
    assert me.id == bot.id == fake.bot_id
    assert me.is_bot and me.username == "front_door_test_bot"
    assert fake.requests[-1]["method"] == "getMe" and fake.requests[-1]["status"] == 200


@pytest.mark.asyncio
async def test_wrong_token_is_401(fake: FakeBotAPI) -> None:
    intruder = make_bot(fake.base_url, token="42:not-the-token")
    try:
        with pytest.raises(TelegramUnauthorizedError):
            await intruder.get_me()
    finally:
        await intruder.session.close()
    assert fake.requests[-1]["status"] == 401


@pytest.mark.asyncio
async def test_unknown_method_is_404(fake: FakeBotAPI) -> None:
    async with ClientSession() as http:
        async with http.post(f"{fake.base_url}/bot{fake.token}/sendTelepathy") as resp:
            assert resp.status == 404
            assert await resp.json() == {
                "ok": False,
                "error_code": 404,
                "description": "Not Found: method not found",
            }
        # method names are case-insensitive on Telegram, and GET works too
        async with http.get(f"{fake.base_url}/bot{fake.token}/GETME") as resp:
            assert resp.status == 200 and (await resp.json())["result"]["id"] == fake.bot_id


@pytest.mark.asyncio
async def test_stop_does_not_hang_on_a_pending_long_poll() -> None:
    api = FakeBotAPI()
    await api.start()
    client = make_bot(api.base_url)
    try:
        poll = asyncio.create_task(client.get_updates(timeout=30))
        await asyncio.sleep(0.2)
        started = time.monotonic()
        await api.stop()
        assert await asyncio.wait_for(poll, 5) == []
        assert time.monotonic() - started < 2
    finally:
        await client.session.close()


# ----------------------------------------------------------------- long polling


@pytest.mark.asyncio
async def test_get_updates_offsets_and_limit(fake: FakeBotAPI, bot: Bot) -> None:
    ids = [fake.push_text(USER, f"hello {n}", language_code="cy") for n in range(3)]
    assert ids == sorted(ids) and len(set(ids)) == 3

    updates = await bot.get_updates()
    assert [u.update_id for u in updates] == ids
    msg = updates[0].message
    assert msg is not None and msg.text == "hello 0" and msg.from_user is not None
    assert msg.chat.id == msg.from_user.id == USER and msg.chat.type == "private"
    assert not msg.from_user.is_bot and msg.from_user.language_code == "cy"

    # not confirmed yet: the same updates come back
    assert [u.update_id for u in await bot.get_updates(limit=1)] == ids[:1]
    # offset confirms (drops) everything below it
    assert [u.update_id for u in await bot.get_updates(offset=ids[1])] == ids[1:]
    assert await bot.get_updates(offset=ids[2] + 1, timeout=0) == []
    assert fake.pending_updates == []


@pytest.mark.asyncio
async def test_long_poll_wakes_on_push_and_times_out(fake: FakeBotAPI, bot: Bot) -> None:
    started = time.monotonic()
    assert await bot.get_updates(timeout=1) == []
    assert 0.9 <= time.monotonic() - started < 3

    poll = asyncio.create_task(bot.get_updates(timeout=20))
    await asyncio.sleep(0.2)
    assert not poll.done()
    started = time.monotonic()
    update_id = fake.push_text(USER, "are you there?")
    updates = await asyncio.wait_for(poll, 5)
    assert time.monotonic() - started < 1.0
    assert [u.update_id for u in updates] == [update_id]


@pytest.mark.asyncio
async def test_second_poller_terminates_first_with_409(fake: FakeBotAPI, bot: Bot) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=20))
    await asyncio.sleep(0.2)
    second = asyncio.create_task(bot.get_updates(timeout=1))
    with pytest.raises(TelegramConflictError, match="terminated by other getUpdates"):
        await asyncio.wait_for(first, 5)
    assert await second == []


@pytest.mark.asyncio
async def test_duplicate_update_via_push_raw(fake: FakeBotAPI, bot: Bot) -> None:
    fake.push_text(USER, "only once, in theory")
    [update] = await bot.get_updates()
    assert await bot.get_updates(offset=update.update_id + 1) == []

    raw = update.model_dump(mode="json", by_alias=True, exclude_none=True)
    assert fake.push_raw(raw) == update.update_id
    again = await bot.get_updates(offset=update.update_id + 1)
    assert [u.update_id for u in again] == [update.update_id]
    assert await bot.get_updates(offset=update.update_id + 1) == []
    # fresh ids keep increasing after a raw push
    assert fake.push_text(USER, "next") > update.update_id


@pytest.mark.asyncio
async def test_user_media_and_edits_parse_as_aiogram_updates(fake: FakeBotAPI, bot: Bot) -> None:
    first = fake.push_text(USER, "typo hre")
    fake.push_sticker(USER)
    fake.push_photo(USER, caption="my letter", content=b"jpeg-bytes")
    fake.push_voice(USER, duration=7)
    fake.push_document(USER, "referral.pdf", content=b"%PDF-1.7 referral")
    updates = await bot.get_updates()
    typo = updates[0].message
    assert typo is not None
    fake.push_edited_text(USER, typo.message_id, "typo here")
    updates += await bot.get_updates(offset=first + 1)

    kinds = [u.event_type for u in updates if u.update_id != first]
    assert kinds[:4] == ["message"] * 4 and kinds[-1] == "edited_message"
    by_id = {u.update_id: u for u in updates}
    msgs = [u.message for u in updates[1:5]]
    assert all(m is not None for m in msgs)
    sticker, photo, voice, document = (m for m in msgs if m is not None)
    assert sticker.sticker is not None and sticker.sticker.emoji
    assert photo.photo is not None and len(photo.photo) == 3 and photo.caption == "my letter"
    assert voice.voice is not None and voice.voice.duration == 7
    assert document.document is not None and document.document.file_name == "referral.pdf"
    edited = by_id[max(by_id)].edited_message
    assert edited is not None and edited.text == "typo here" and edited.edit_date is not None
    assert edited.message_id == typo.message_id

    # files round-trip through getFile + /file/bot<token>/<path>
    data = await bot.download(document.document.file_id)
    assert data is not None and data.read() == b"%PDF-1.7 referral"
    photo_data = await bot.download(photo.photo[-1].file_id)
    assert photo_data is not None and photo_data.read() == b"jpeg-bytes"


# ---------------------------------------------------------- messages & keyboards


@pytest.mark.asyncio
async def test_send_message_keyboard_callback_round_trip(fake: FakeBotAPI, bot: Bot) -> None:
    fake.push_command(USER, "/start")
    [start] = await bot.get_updates()
    assert start.message is not None and start.message.entities is not None
    assert start.message.entities[0].type == "bot_command"

    sent = await bot.send_message(USER, "Is it safe to talk?", reply_markup=KEYBOARD)
    assert sent.chat.id == USER and sent.from_user is not None and sent.from_user.is_bot
    assert sent.message_id > start.message.message_id
    # aiogram models from responses carry private state; compare their dumps
    assert sent.reply_markup is not None
    assert sent.reply_markup.model_dump() == KEYBOARD.model_dump()

    [record] = fake.sent(USER)
    assert record["method"] == "sendMessage" and record["text"] == "Is it safe to talk?"
    assert record["message_id"] == sent.message_id
    assert record["reply_markup"]["inline_keyboard"][0][0] == {
        "text": "Yes",
        "callback_data": "consent:yes",
    }

    fake.push_callback(USER, "consent:yes")
    [cb_update] = await bot.get_updates(offset=start.update_id + 1)
    query = cb_update.callback_query
    assert query is not None and query.data == "consent:yes"
    assert query.message is not None and query.message.message_id == sent.message_id
    assert query.from_user.id == USER

    assert await bot.answer_callback_query(query.id, text="Thanks")
    assert fake.callbacks_answered[-1]["text"] == "Thanks"
    assert fake.callbacks_answered() == fake.callbacks_answered  # both styles work
    assert fake.callbacks_answered[-1]["data"] == "consent:yes"
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query(query.id)

    edited = await bot.edit_message_text("Thanks, noted.", chat_id=USER, message_id=sent.message_id)
    assert isinstance(edited, Message) and edited.reply_markup is None  # keyboard dropped
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text("Thanks, noted.", chat_id=USER, message_id=sent.message_id)
    await bot.edit_message_reply_markup(
        chat_id=USER, message_id=sent.message_id, reply_markup=KEYBOARD
    )
    assert [e["method"] for e in fake.sent(USER)] == [
        "sendMessage",
        "editMessageText",
        "editMessageReplyMarkup",
    ]

    assert await bot.delete_message(USER, sent.message_id)
    assert [m["message_id"] for m in fake.messages(USER)] == [start.message.message_id]
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(USER, sent.message_id)


@pytest.mark.asyncio
async def test_parse_modes_are_validated_like_telegram(fake: FakeBotAPI, bot: Bot) -> None:
    fake.push_text(USER, "hi")
    ok = await bot.send_message(
        USER, "<b>Call 999</b> if you are in danger &amp; safe", parse_mode="HTML"
    )
    assert ok.text == "Call 999 if you are in danger & safe"
    assert ok.entities is not None and ok.entities[0].type == "bold"
    assert (ok.entities[0].offset, ok.entities[0].length) == (0, 8)
    assert fake.sent(USER)[-1]["text"].startswith("<b>")  # as the bot sent it

    with pytest.raises(TelegramBadRequest, match='Unsupported start tag "br"'):
        await bot.send_message(USER, "line<br>line", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match="Can't find end tag"):
        await bot.send_message(USER, "<b>unclosed", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match=r"Character '\.' is reserved"):
        await bot.send_message(USER, "Call 999.", parse_mode="MarkdownV2")
    v2 = await bot.send_message(USER, "*Call* 999\\.", parse_mode="MarkdownV2")
    assert v2.text == "Call 999."
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(USER, "<b></b>", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(USER, "x" * 4097)


@pytest.mark.parametrize(
    ("text", "mode", "plain", "types"),
    [
        ('<a href="https://x.org">site</a> &lt;3', "HTML", "site <3", ["text_link"]),
        ('<pre><code class="language-py">x</code></pre>', "HTML", "x", ["pre"]),
        ("a & b &nbsp;", "HTML", "a & b &nbsp;", []),
        (
            "__u__ ||s|| [l](https://x.org/a\\)b)",
            "MarkdownV2",
            "u s l",
            ["underline", "spoiler", "text_link"],
        ),
        ("*b* _i_ `c`", "Markdown", "b i c", ["bold", "italic", "code"]),
        ("\N{GRINNING FACE} <b>x</b>", "HTML", "\N{GRINNING FACE} x", ["bold"]),
    ],
)
def test_render_text(text: str, mode: str, plain: str, types: list[str]) -> None:
    rendered, entities = render_text(text, mode)
    assert rendered == plain
    assert [e["type"] for e in entities] == types
    if text.startswith("\N{GRINNING FACE}"):
        assert entities[0]["offset"] == 3  # UTF-16: the emoji counts as 2, plus a space


@pytest.mark.parametrize(
    ("text", "mode", "error"),
    [
        ("<b><i>x</b></i>", "HTML", "Unmatched end tag"),
        ("x</b>", "HTML", "Unexpected end tag"),
        ('<span class="nope">x</span>', "HTML", "tg-spoiler"),
        ("a < b", "HTML", 'Unsupported start tag ""'),
        ("*bold", "MarkdownV2", "Can't find end of Bold entity"),
        ("my_username", "Markdown", "Can't find end of the entity"),
    ],
)
def test_render_text_errors(text: str, mode: str, error: str) -> None:
    with pytest.raises(ApiError, match=re.escape(error)) as caught:
        render_text(text, mode)
    assert caught.value.status == 400


@pytest.mark.asyncio
async def test_push_callback_targets(fake: FakeBotAPI, bot: Bot) -> None:
    fake.push_text(USER, "hi")
    with pytest.raises(LookupError):
        fake.push_callback(USER, "consent:yes")
    first = await bot.send_message(USER, "first", reply_markup=KEYBOARD)
    other = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Menu", callback_data="menu")]]
    )
    second = await bot.send_message(USER, "second", reply_markup=other)
    await bot.get_updates()
    pending = fake.pending_updates

    fake.push_callback(USER, "menu")  # newest keyboard
    fake.push_callback(USER, "consent:yes")  # the older message that has this button
    fake.push_callback(USER, "gone", message_id=first.message_id)  # explicit
    ids = [
        u["callback_query"]["message"]["message_id"] for u in fake.pending_updates[len(pending) :]
    ]
    assert ids == [second.message_id, first.message_id, first.message_id]


@pytest.mark.asyncio
async def test_unknown_and_blocked_chats(fake: FakeBotAPI, bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(999, "hello stranger")
    fake.push_text(USER, "hi")
    fake.block_user(USER)
    with pytest.raises(TelegramForbiddenError, match="blocked by the user"):
        await bot.send_message(USER, "are you ok?")


@pytest.mark.asyncio
async def test_bot_settings_methods(fake: FakeBotAPI, bot: Bot) -> None:
    fake.push_text(USER, "hi")
    commands = [
        BotCommand(command="start", description="Start"),
        BotCommand(command="help", description="Help"),
    ]
    assert await bot.set_my_commands(commands)
    assert await bot.set_my_commands(commands[:1], language_code="cy")
    assert dumps(await bot.get_my_commands()) == dumps(commands)
    assert dumps(await bot.get_my_commands(language_code="cy")) == dumps(commands[:1])
    assert await bot.delete_my_commands()
    assert await bot.get_my_commands() == []
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Bad Command", description="x")])

    button = MenuButtonWebApp(text="Help", web_app=WebAppInfo(url="https://example.org"))
    assert await bot.set_chat_menu_button(chat_id=USER, menu_button=button)
    got = await bot.get_chat_menu_button(chat_id=USER)
    assert got.model_dump() == button.model_dump()
    assert await bot.send_chat_action(USER, "typing")
    assert fake.chat_actions[-1] == {**fake.chat_actions[-1], "chat_id": USER, "action": "typing"}
    assert await bot.close() and await bot.log_out()
    assert fake.sent() == []  # none of these are messages


# ---------------------------------------------------------------------- webhooks


@pytest.mark.asyncio
async def test_webhook_delivery_with_secret_and_409(fake: FakeBotAPI, bot: Bot) -> None:
    receiver = Receiver()
    url = await receiver.start()
    try:
        early = fake.push_text(USER, "sent before the webhook")
        assert await bot.set_webhook(url, secret_token="s3cret_Token-1")
        later = fake.push_text(USER, "sent after")
        await fake.wait_for(lambda: len(receiver.calls) >= 2, timeout=5)
        headers, body = receiver.calls[0]
        assert headers["X-Telegram-Bot-Api-Secret-Token"] == "s3cret_Token-1"
        assert headers["Content-Type"] == "application/json"
        assert [b["update_id"] for _, b in receiver.calls] == [early, later]  # per-chat order
        assert body["message"]["text"] == "sent before the webhook"

        with pytest.raises(TelegramConflictError, match="webhook is active"):
            await bot.get_updates()
        info = await bot.get_webhook_info()
        assert info.url == url and info.pending_update_count == 0

        assert await bot.delete_webhook()
        fake.push_text(USER, "polling again")
        [update] = await bot.get_updates()
        assert update.message is not None and update.message.text == "polling again"
    finally:
        await receiver.stop()


@pytest.mark.asyncio
async def test_webhook_retries_failed_deliveries(fake: FakeBotAPI, bot: Bot) -> None:
    receiver = Receiver(fail_first=2)
    url = await receiver.start()
    try:
        await bot.set_webhook(url)
        update_id = fake.push_text(USER, "please retry")
        await fake.wait_for(lambda: len(receiver.calls) == 3, timeout=5)
        assert "X-Telegram-Bot-Api-Secret-Token" not in receiver.calls[0][0]
        attempts = [d for d in fake.webhook_deliveries if d["update_id"] == update_id]
        assert [d["status"] for d in attempts] == [500, 500, 200]
        info = await bot.get_webhook_info()
        assert info.last_error_message is not None and "500" in info.last_error_message
        await fake.wait_for(lambda: not fake.pending_updates, timeout=2)
    finally:
        await bot.delete_webhook()
        await receiver.stop()


@pytest.mark.asyncio
async def test_delete_webhook_drops_pending_updates(fake: FakeBotAPI, bot: Bot) -> None:
    fake.push_text(USER, "one")
    fake.push_text(USER, "two")
    assert await bot.delete_webhook(drop_pending_updates=True)
    assert await bot.get_updates() == []


@pytest.mark.asyncio
async def test_webhook_reply_method_is_executed(fake: FakeBotAPI, bot: Bot) -> None:
    """aiogram can answer a webhook with a method in the response body; Telegram runs it."""
    router = Router()

    @router.message(F.text == "ping")
    async def ping(message: Message) -> TelegramMethod[Any]:
        return message.answer("pong <b>back</b>", parse_mode="HTML")

    dp = Dispatcher()
    dp.include_router(router)
    app = web.Application()
    SimpleRequestHandler(dp, bot, handle_in_background=False, secret_token="abc").register(
        app, path="/hook"
    )
    runner, base = await start_app(app)
    try:
        await bot.set_webhook(f"{base}/hook", secret_token="abc")
        fake.push_text(USER, "ping")
        [reply] = await fake.wait_for_sent(USER, 1, timeout=5)
        assert reply["plain_text"] == "pong back" and reply["parse_mode"] == "HTML"
    finally:
        await bot.delete_webhook()
        await runner.cleanup()


# -------------------------------------------------------------------- dispatcher


@pytest.mark.asyncio
async def test_dispatcher_polling_end_to_end(fake: FakeBotAPI, bot: Bot) -> None:
    router = Router()

    @router.message(CommandStart())
    async def start(message: Message) -> None:
        await message.bot.send_chat_action(message.chat.id, "typing")  # type: ignore[union-attr]
        await message.answer("Hello! Can we help?", reply_markup=KEYBOARD)

    @router.callback_query(F.data.startswith("consent:"))
    async def consent(query: CallbackQuery) -> None:
        await query.answer("Noted")
        assert isinstance(query.message, Message)
        await query.message.edit_text(f"You chose {query.data}")

    @router.message(F.text)
    async def echo(message: Message) -> None:
        await message.answer(f"echo: {message.text}")

    dp = Dispatcher()
    dp.include_router(router)
    polling = asyncio.create_task(
        dp.start_polling(bot, polling_timeout=1, handle_signals=False, close_bot_session=False)
    )
    try:
        fake.push_command(USER, "/start")
        [hello] = await fake.wait_for_sent(USER, 1)
        assert hello["plain_text"] == "Hello! Can we help?"
        fake.push_callback(USER, "consent:no")
        entries = await fake.wait_for_sent(USER, 2)
        assert entries[1]["method"] == "editMessageText"
        assert entries[1]["plain_text"] == "You chose consent:no"
        await fake.wait_for(lambda: fake.callbacks_answered, timeout=5)
        assert fake.callbacks_answered[0]["text"] == "Noted"
        fake.push_text(USER, "hello")
        await fake.wait_for_sent(USER, 2, methods=["sendMessage"])
        assert fake.sent(USER, ["sendMessage"])[-1]["plain_text"] == "echo: hello"
        assert [a["action"] for a in fake.chat_actions] == ["typing"]
        # aiogram asks only for the update types it has handlers for
        assert sorted(fake.allowed_updates or []) == ["callback_query", "message"]
    finally:
        await dp.stop_polling()
        await asyncio.wait_for(polling, 5)


@pytest.mark.asyncio
async def test_many_users_concurrently(fake: FakeBotAPI, bot: Bot) -> None:
    """200 users x 3 turns through real polling; every turn answered, nothing leaks."""
    router = Router()

    @router.message(F.text)
    async def echo(message: Message) -> None:
        await message.answer(f"you said {message.text}")

    dp = Dispatcher()
    dp.include_router(router)
    polling = asyncio.create_task(
        dp.start_polling(bot, polling_timeout=1, handle_signals=False, close_bot_session=False)
    )
    users = range(1_000, 1_200)
    try:
        for turn in range(3):
            for user in users:
                fake.push_text(user, f"turn {turn}")
            await asyncio.gather(*(fake.wait_for_sent(u, turn + 1, timeout=30) for u in users))
        assert all(fake.sent(u)[-1]["plain_text"] == "you said turn 2" for u in users)
        await fake.wait_for(lambda: not fake.pending_updates, timeout=5)
    finally:
        await dp.stop_polling()
        await asyncio.wait_for(polling, 5)
    assert len(fake.sent()) == 600


# ----------------------------------------------------------------------- faults


@pytest.mark.asyncio
async def test_fail_next_429_and_5xx(fake: FakeBotAPI, bot: Bot) -> None:
    fake.push_text(USER, "hi")
    fake.fail_next("sendMessage", 429, retry_after=3)
    with pytest.raises(TelegramRetryAfter) as too_many:
        await bot.send_message(USER, "one")
    assert too_many.value.retry_after == 3
    fake.fail_next("sendMessage", 502, times=2)
    for _ in range(2):
        with pytest.raises(TelegramServerError, match="Bad Gateway"):
            await bot.send_message(USER, "two")
    fake.fail_next("sendmessage", 500)  # method names are case-insensitive
    with pytest.raises(TelegramServerError):
        await bot.send_message(USER, "three")
    await bot.send_message(USER, "four")
    statuses = [r["status"] for r in fake.requests if r["method"] == "sendMessage"]
    assert statuses == [429, 502, 502, 500, 200]
    assert [e["text"] for e in fake.sent(USER)] == ["four"]  # failed calls had no effect

    # a lost response: processed, but the bot sees an error (duplicate-send hazard)
    fake.fail_next("sendMessage", 502, after_processing=True)
    with pytest.raises(TelegramServerError):
        await bot.send_message(USER, "five")
    assert fake.sent(USER)[-1]["text"] == "five"


@pytest.mark.asyncio
async def test_fail_ratio_storm_is_seeded(fake: FakeBotAPI, bot: Bot) -> None:
    fake.push_text(USER, "hi")

    async def storm() -> list[bool]:
        fake.fail_ratio("sendChatAction", 0.3, status=429, seed=7)
        outcome = []
        for _ in range(60):
            try:
                await bot.send_chat_action(USER, "typing")
                outcome.append(True)
            except TelegramRetryAfter:
                outcome.append(False)
        return outcome

    first, second = await storm(), await storm()
    assert first == second  # same seed, same storm
    assert 6 <= first.count(False) <= 36
    fake.reset_faults()
    assert await bot.send_chat_action(USER, "typing")


# ------------------------------------------------------------------ wire format


@pytest.mark.asyncio
async def test_json_urlencoded_and_multipart_bodies(fake: FakeBotAPI, bot: Bot) -> None:
    fake.push_text(USER, "hi")
    url = f"{fake.base_url}/bot{fake.token}/sendMessage"
    markup = {"inline_keyboard": [[{"text": "OK", "callback_data": "ok"}]]}
    async with ClientSession() as http:
        async with http.post(
            url, json={"chat_id": USER, "text": "json", "reply_markup": markup}
        ) as r:
            assert r.status == 200, await r.text()
        form = {"chat_id": str(USER), "text": "123", "reply_markup": json.dumps(markup)}
        async with http.post(url, data=form) as r:  # urlencoded, like aiogram without files
            assert r.status == 200, await r.text()
        multipart = FormData()
        multipart.add_field("chat_id", str(USER))
        multipart.add_field("text", "multi")
        multipart.add_field("reply_markup", json.dumps(markup))
        multipart.add_field("junk", b"x", filename="x.bin")  # forces multipart/form-data
        async with http.post(url, data=multipart) as r:
            assert r.status == 200, await r.text()
        async with http.get(url, params={"chat_id": USER, "text": "query"}) as r:
            assert r.status == 200, await r.text()
    texts = [e["text"] for e in fake.sent(USER)]
    assert texts == ["json", "123", "multi", "query"]  # "123" stayed text
    assert all(e["reply_markup"] == markup for e in fake.sent(USER)[:3])

    # aiogram uploads (multipart + attach://) for documents
    doc = await bot.send_document(
        USER, BufferedInputFile(b"leaflet", filename="leaflet.pdf"), caption="Our leaflet"
    )
    assert doc.document is not None and doc.document.file_name == "leaflet.pdf"
    downloaded = await bot.download(doc.document.file_id)
    assert downloaded is not None and downloaded.read() == b"leaflet"


# --------------------------------------------------------------------- control


@pytest.mark.asyncio
async def test_http_control_api(fake: FakeBotAPI, bot: Bot) -> None:
    control = f"{fake.base_url}/_control"
    async with ClientSession() as http:
        async with http.post(f"{control}/push_text", json={"chat_id": USER, "text": "hi"}) as r:
            update_id = (await r.json())["result"]
        [update] = await bot.get_updates()
        assert update.update_id == update_id
        await bot.send_message(USER, "hello from the bot")
        async with http.get(f"{control}/sent", params={"chat_id": USER}) as r:
            [entry] = (await r.json())["result"]
            assert entry["text"] == "hello from the bot"
        async with http.post(
            f"{control}/wait_for_sent", json={"chat_id": USER, "count": 2, "timeout": 0.2}
        ) as r:
            assert r.status == 408
        async with http.post(f"{control}/fail_next", json={"method": "getMe", "status": 502}) as r:
            assert r.status == 200
        with pytest.raises(TelegramServerError):
            await bot.get_me()
        async with http.post(f"{control}/nope") as r:
            assert r.status == 404
        async with http.post(f"{control}/push_text", json={"chat_id": USER}) as r:
            assert r.status == 400  # missing text
        async with http.get(f"{control}/stats") as r:
            assert (await r.json())["result"]["requests_by_status"]["502"] == 1


@pytest.mark.slow
@pytest.mark.asyncio
async def test_standalone_process() -> None:
    script = Path(__file__).with_name("fake_bot_api.py")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(script), "--port", "0", stdout=asyncio.subprocess.PIPE
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 20)
        info = json.loads(line)
        client = make_bot(info["base_url"], info["token"])
        try:
            assert (await client.get_me()).id == client.id
            async with ClientSession() as http:
                async with http.post(
                    f"{info['control']}/push_command", json={"chat_id": USER, "command": "/start"}
                ) as r:
                    assert r.status == 200
            [update] = await client.get_updates()
            assert update.message is not None and update.message.text == "/start"
        finally:
            await client.session.close()
    finally:
        proc.terminate()
        assert await asyncio.wait_for(proc.wait(), 10) == 0
