"""The load benchmark's baseline: a bare aiogram 3 bot that echoes text and answers buttons.

Why: the front door's latency only means something next to what aiogram, HTTP and the fake
Bot API cost on the same machine under the same harness. This bot does nothing else: no
database, no NLU, aiogram's default polling. It reads the same settings as `frontdoor run`
(TELEGRAM_BOT_TOKEN, TELEGRAM_API_URL) and stops on SIGINT/SIGTERM.

Every reply carries one inline button, so a simulated user can always "press" something.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

KEYBOARD = InlineKeyboardMarkup(
    inline_keyboard=[[InlineKeyboardButton(text="again", callback_data="again")]]
)


def build_dispatcher() -> Dispatcher:
    dp = Dispatcher()

    @dp.message()  # no filter: aiogram runs plain filters (F...) in a worker thread
    async def echo(message: Message) -> None:
        await message.answer(message.text or "(no text)", reply_markup=KEYBOARD)

    @dp.callback_query()
    async def pressed(query: CallbackQuery) -> None:
        await query.answer()
        if query.message is not None:
            await query.message.answer(query.data or "(no data)", reply_markup=KEYBOARD)

    return dp


async def main() -> None:
    api = os.environ.get("TELEGRAM_API_URL", "https://api.telegram.org").rstrip("/")
    bot = Bot(
        token=os.environ["TELEGRAM_BOT_TOKEN"],
        session=AiohttpSession(api=TelegramAPIServer.from_base(api)),
    )
    dp = build_dispatcher()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    polling = asyncio.create_task(dp.start_polling(bot, handle_signals=False))
    await stop.wait()
    with contextlib.suppress(RuntimeError):
        await dp.stop_polling()
    await asyncio.gather(polling, return_exceptions=True)
    await bot.session.close()


if __name__ == "__main__":
    asyncio.run(main())
