"""Telegram channel: aiogram 3 routers turn updates into channel-neutral Messages.

Handlers only store the message in the inbox (a fast insert) and return; processing happens
in the Processor. With long polling, a getUpdates batch is stored in one transaction, and
Telegram is told it was received (the next getUpdates offset) only after that. In webhook
mode the HTTP 200 is sent after the insert.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import secrets
from dataclasses import replace
from functools import partial
from typing import Any

# isort: split
# First, before anything imports aiogram: its Telegram types are then built on first use
# (about 100 MB less per worker; see the module).
from bot import aiogram_lazy

# isort: split
from aiogram import Bot, Dispatcher, Router
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ChatType
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.methods import GetUpdates
from aiogram.types import BotCommand, CallbackQuery, Update
from aiogram.types import Message as TgMessage
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

from bot.settings import Settings
from bot.telegram_callback import callback_data, parse_callback
from bot.telegram_session import JsonAiohttpSession, call_unread
from flows.commands import COMMANDS, MENU
from flows.i18n import available_languages, translator
from flows.processor import Processor
from flows.types import Choice, Flag, Kind, Message, Reply

log = logging.getLogger("frontdoor.telegram")

CHANNEL = "telegram"
WEBHOOK_PATH = "/telegram/webhook"
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]
POLL_TIMEOUT = 20  # seconds Telegram holds a getUpdates open when there is nothing to send
POLL_BACKOFF = 0.5  # first pause after a failed poll; doubles up to 30 s
UNSUPPORTED_CONTENT = (
    "sticker", "photo", "voice", "video", "video_note", "audio", "document", "animation",
    "location", "contact", "poll", "dice", "venue", "game", "story",
)


def _response_types() -> tuple[type, ...]:
    """aiogram parses every Bot API answer as `Response[<method's result type>]`. pydantic
    caches such classes only weakly, so after a garbage collection each one is rebuilt (about
    5 ms of schema building, some 8% of the bot's CPU under load). Holding the ones this bot
    uses keeps them built."""
    from aiogram import methods
    from aiogram.methods.base import Response

    used = (
        methods.GetUpdates,
        methods.SendMessage,
        methods.AnswerCallbackQuery,
        methods.EditMessageReplyMarkup,
        methods.SetMyCommands,
        methods.DeleteWebhook,
        methods.SetWebhook,
        methods.GetMe,
    )
    generic: Any = Response  # parametrised at run time, as aiogram does
    return tuple(generic[m.__returning__] for m in used)


_RESPONSE_TYPES = _response_types()
# Built now, at start-up, rather than in the first person's message.
aiogram_lazy.prebuild(Update, *_RESPONSE_TYPES)


def make_bot(settings: Settings) -> Bot:
    session = JsonAiohttpSession(api=TelegramAPIServer.from_base(settings.telegram_api_url))
    return Bot(token=settings.telegram_bot_token, session=session)


def _neutral(tg: TgMessage, update: Update, kind: Kind, **fields: Any) -> Message:
    user = tg.from_user
    return Message(
        channel=CHANNEL, chat=str(tg.chat.id), kind=kind,
        language=(user.language_code or "").split("-")[0] if user else None,
        external_id=str(update.update_id), **fields,
    )


# Filters are coroutines on purpose: aiogram runs a plain function, magic F filters included,
# in a worker thread (asyncio.to_thread), two or three thread hops for every update.
async def _private(message: TgMessage) -> bool:
    return message.chat.type == ChatType.PRIVATE


async def _command_like(message: TgMessage) -> bool:
    return bool(message.text and message.text.startswith("/"))


async def _has_text(message: TgMessage) -> bool:
    return bool(message.text)


def build_router(processor: Processor, *, hold: bool = True) -> Router:
    """Private chats only: a family's conversation is never in a group.

    `hold=False` (webhooks): while the database is away an update is refused, so Telegram
    delivers it again, in order, to whichever worker is next (see Processor.accept).
    """
    router = Router(name="frontdoor")
    accept = partial(processor.accept, hold=hold)
    router.message.filter(_private)
    router.edited_message.filter(_private)

    @router.message(_command_like)
    async def on_command(message: TgMessage, event_update: Update) -> None:
        head, _, arg = (message.text or "").partition(" ")
        name = head[1:].split("@", 1)[0].lower()
        if name in COMMANDS:
            await accept(_neutral(message, event_update, Kind.COMMAND,
                                            command=name, text=arg.strip()))
        else:
            await accept(_neutral(message, event_update, Kind.TEXT,
                                            text=message.text or ""))

    @router.message(_has_text)
    async def on_text(message: TgMessage, event_update: Update) -> None:
        await accept(_neutral(message, event_update, Kind.TEXT, text=message.text or ""))

    @router.message()
    async def on_other(message: TgMessage, event_update: Update) -> None:
        detail = next((c for c in UNSUPPORTED_CONTENT if getattr(message, c, None)), "other")
        await accept(_neutral(message, event_update, Kind.UNSUPPORTED, detail=detail))

    @router.edited_message()
    async def on_edit(message: TgMessage, event_update: Update) -> None:
        await accept(_neutral(message, event_update, Kind.EDITED,
                                        text=message.text or ""))

    @router.callback_query()
    async def on_button(query: CallbackQuery, event_update: Update) -> None:
        chat = query.message.chat if query.message else None
        if chat is None or chat.type != ChatType.PRIVATE:
            await query.answer()
            return
        user = query.from_user
        choice, question = parse_callback(query.data or "")
        await accept(Message(
            channel=CHANNEL, chat=str(chat.id), kind=Kind.CHOICE, choice=choice,
            question=question,
            language=(user.language_code or "").split("-")[0] if user else None,
            external_id=str(event_update.update_id),
        ))
        # Off the update loop: updates are taken one batch at a time, and two Bot API round
        # trips per button press would hold up everyone else's messages in the batch.
        task = asyncio.get_running_loop().create_task(_settle_button(query))
        _settling.add(task)
        task.add_done_callback(_settling.discard)

    return router


_settling: set[asyncio.Task[None]] = set()


async def _settle_button(query: CallbackQuery) -> None:
    """Stop the spinner on the pressed button and remove the answered question's buttons, so
    they can't be pressed again by mistake. Cosmetic: the answer is already stored."""
    from aiogram.methods import AnswerCallbackQuery, EditMessageReplyMarkup

    try:
        bot = query.bot
        if bot is None:
            return
        await call_unread(bot, AnswerCallbackQuery, callback_query_id=query.id)
        if query.message is not None:  # no reply_markup: the buttons are removed
            await call_unread(bot, EditMessageReplyMarkup, chat_id=query.message.chat.id,
                              message_id=query.message.message_id)
    except TelegramAPIError:
        pass
    except Exception as exc:  # a closed session at shutdown, say: never an unhandled task error
        log.warning("could not settle a button press (%s)", type(exc).__name__)


class TelegramChannel:
    """Owns the bot, its dispatcher and (in webhook mode) the webhook route."""

    def __init__(self, settings: Settings, processor: Processor) -> None:
        self.settings = settings
        self.bot = make_bot(settings)
        # The conversation's state lives in the database; aiogram's FSM would only add a
        # storage lookup to every update.
        self.dispatcher = Dispatcher(disable_fsm=True)
        self.dispatcher.include_router(build_router(processor, hold=not self.webhook_mode))
        self.processor = processor
        self._polling: asyncio.Task[None] | None = None
        self.webhook_secret = settings.webhook_secret or secrets.token_urlsafe(32)

    @property
    def webhook_mode(self) -> bool:
        return bool(self.settings.webhook_url)

    async def set_commands(self) -> None:
        try:
            for language in available_languages():
                t = translator(language)
                commands = [BotCommand(command=c, description=t(d)[:256]) for c, d in MENU]
                await self.bot.set_my_commands(
                    commands, language_code=None if language == "en" else language)
        except TelegramAPIError as exc:
            log.warning("could not set the command menu: %s", type(exc).__name__)

    def mount_webhook(self, app: web.Application) -> None:
        handler = SimpleRequestHandler(
            dispatcher=self.dispatcher, bot=self.bot, secret_token=self.webhook_secret,
            handle_in_background=False,
        )
        handler.register(app, path=WEBHOOK_PATH)

    async def start_webhook(self) -> None:
        url = self.settings.webhook_url.rstrip("/")
        if not url.endswith(WEBHOOK_PATH):
            url += WEBHOOK_PATH
        await self.bot.set_webhook(url, secret_token=self.webhook_secret,
                                   allowed_updates=ALLOWED_UPDATES)

    async def poll(self) -> None:
        """Long polling, a batch at a time: every update of a getUpdates answer goes through
        the routers, the batch is stored in one transaction, and only then is the next
        offset asked for, which tells Telegram the batch arrived. A crash before that means
        Telegram sends the batch again; the inbox skips what it already has."""
        self._polling = asyncio.current_task()
        try:
            await self.bot.delete_webhook(drop_pending_updates=False)
        except TelegramBadRequest:
            pass
        offset: int | None = None
        failures = 0
        while True:
            try:
                updates = await self.bot(
                    GetUpdates(offset=offset, timeout=POLL_TIMEOUT,
                               allowed_updates=ALLOWED_UPDATES),
                    request_timeout=POLL_TIMEOUT + 10)
                if updates:
                    await self._store(updates)
                    offset = updates[-1].update_id + 1
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Telegram, the network or the database: wait, ask again
                failures += 1
                delay = min(POLL_BACKOFF * 2 ** min(failures - 1, 5), 30.0)
                log.warning("polling failed (%s); retrying in %.1f s", type(exc).__name__, delay)
                await asyncio.sleep(delay)

    async def _store(self, updates: list[Update]) -> None:
        async with self.processor.collect():
            for update in updates:
                try:
                    await self.dispatcher.feed_update(self.bot, update)
                except Exception as exc:  # one unreadable update must not hold up the rest
                    log.error("an update could not be handled (update %s, %s)",
                              update.update_id, type(exc).__name__)

    async def stop(self) -> None:
        if self._polling is not None and not self._polling.done():
            self._polling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._polling
        await self.bot.session.close()


# --- delivery ------------------------------------------------------------------------------

TELEGRAM_LIMIT = 4096
# Well inside the outbox lease (bot/outbox.py), so a slow send never outlives its claim.
SEND_TIMEOUT = 10


def _chunks(text: str, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Split long text on paragraph or line breaks so nothing is cut mid-word."""
    parts: list[str] = []
    while len(text) > limit:
        cut = max(text.rfind("\n\n", 0, limit), text.rfind("\n", 0, limit))
        if cut <= 0:
            cut = text.rfind(" ", 0, limit)
        if cut <= 0:
            cut = limit
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    parts.append(text)
    return [p for p in parts if p]


def _rest(reply: Reply, chunks: list[str], sent: int) -> Reply | None:
    """The parts not yet sent, as a reply of their own (its warning sign went with part one)."""
    if sent == 0:
        return None
    return replace(reply, text="\n\n".join(chunks[sent:]),
                   flags=reply.flags - {Flag.EMERGENCY, Flag.URGENT})


@functools.lru_cache(maxsize=2048)
def keyboard(choices: tuple[Choice, ...], question: str = "") -> dict[str, Any]:
    """A reply's buttons as the Bot API's InlineKeyboardMarkup JSON, one button a row. Built
    once per question's set of buttons. Shared, so never changed."""
    return {"inline_keyboard": [
        [{"text": c.label[:64], "callback_data": callback_data(c.id, question)}]
        for c in choices]}


def make_deliver(bot: Bot) -> Any:
    """Telegram's `deliver(chat, reply)` for the OutboxSender."""
    from aiogram.exceptions import (
        TelegramForbiddenError,
        TelegramNetworkError,
        TelegramRetryAfter,
        TelegramServerError,
    )
    from aiogram.methods import SendMessage

    from bot.outbox import RetryLater, Undeliverable

    async def deliver(chat: str, reply: Reply) -> None:
        markup = keyboard(tuple(reply.choices), reply.question) if reply.choices else None
        text = reply.text
        if Flag.EMERGENCY in reply.flags or Flag.URGENT in reply.flags:
            text = "⚠️ " + text
        chunks = _chunks(text) or [" "]
        sent = 0
        try:
            for n, chunk in enumerate(chunks):
                fields: dict[str, Any] = {
                    "chat_id": int(chat) if chat.lstrip("-").isdigit() else chat, "text": chunk}
                if markup is not None and n == len(chunks) - 1:
                    fields["reply_markup"] = markup
                await call_unread(bot, SendMessage, request_timeout=SEND_TIMEOUT, **fields)
                sent = n + 1
        except TelegramRetryAfter as exc:
            raise RetryLater(float(exc.retry_after), "rate limited",
                             remainder=_rest(reply, chunks, sent)) from exc
        except (TelegramServerError, TelegramNetworkError) as exc:
            raise RetryLater(2.0, type(exc).__name__, remainder=_rest(reply, chunks, sent)) from exc
        except TelegramForbiddenError as exc:
            raise Undeliverable("bot blocked by the user") from exc
        except TelegramBadRequest as exc:
            if "chat not found" in str(exc).lower():
                raise Undeliverable("chat not found") from exc
            raise RetryLater(30.0, "bad request", remainder=_rest(reply, chunks, sent)) from exc

    return deliver
