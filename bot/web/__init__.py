"""The web chat channel: one accessible page and a websocket onto the same engine.

`setup(app, runtime)` adds the routes and starts the web outbox sender with the app:

  GET /, GET /chat     the chat page (language from ?lang=xx, else the browser's)
  GET /chat/ws         the websocket (see bot/web/chat.py for the protocol)
  GET /static/chat/*   its script and style sheet
  GET /neutral         a plain page with nothing about the hub (a local quick-exit target)

The quick exit goes to FRONTDOOR_QUICK_EXIT_URL, else the profile's `quick_exit_url`, else
https://www.bbc.co.uk/weather. Resume codes live in `web_resume_codes` (storage/web.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from functools import lru_cache, partial

from aiohttp import web

from bot.outbox import OutboxSender
from bot.runtime import Runtime
from bot.web import resume
from bot.web.chat import CHANNEL, WebChat, websocket
from bot.web.hub import Hub
from bot.web.page import NEUTRAL_PATH, WS_PATH, PageConfig, render_chat, render_neutral, static_file
from bot.web.strings import page_strings

log = logging.getLogger("frontdoor.web")

WEB_CHAT = web.AppKey("web_chat", WebChat)
HOUSEKEEPING_EVERY = 3600.0

__all__ = ["CHANNEL", "WEB_CHAT", "setup"]


def setup(app: web.Application, runtime: Runtime) -> None:
    """Add the web chat routes to `app`; its sender runs from start-up to clean-up."""
    config = PageConfig.build(runtime.profile)
    strings = lru_cache(maxsize=64)(partial(page_strings, runtime.profile))

    async def ended(chat: str) -> None:
        """After /delete the resume code goes too, and the browser forgets the chat."""
        if await resume.forget_if_deleted(runtime.db, chat):
            for window in hub.windows(chat):
                with contextlib.suppress(Exception):
                    await window.send({"type": "forget"})

    hub = Hub(strings, ended)
    web_chat = WebChat(runtime, config, hub, strings)
    app[WEB_CHAT] = web_chat

    async def chat_page(request: web.Request) -> web.StreamResponse:
        return render_chat(config, request)

    async def neutral_page(request: web.Request) -> web.StreamResponse:
        return render_neutral(config, request)

    app.router.add_get("/", chat_page)
    app.router.add_get("/chat", chat_page)
    app.router.add_get(WS_PATH, partial(websocket, web_chat=web_chat))
    app.router.add_get("/static/chat/{name}", static_file)
    app.router.add_get(NEUTRAL_PATH, neutral_page)

    sender = OutboxSender(runtime.db, runtime.bus, CHANNEL, hub.deliver, reachable=hub.chats,
                          lease=runtime.settings.outbox_lease)
    runtime.processor.register_handoff(CHANNEL, sender)
    tasks: list[asyncio.Task[None]] = []

    async def start(_app: web.Application) -> None:
        tasks.append(asyncio.create_task(sender.run(), name="web-sender"))
        tasks.append(asyncio.create_task(_housekeeping(runtime), name="web-housekeeping"))

    async def shutdown(_app: web.Application) -> None:
        await hub.close_all()

    async def cleanup(_app: web.Application) -> None:
        for task in [*tasks, *web_chat.tasks]:
            task.cancel()
        await asyncio.gather(*tasks, *web_chat.tasks, return_exceptions=True)
        tasks.clear()

    app.on_startup.append(start)
    app.on_shutdown.append(shutdown)
    app.on_cleanup.append(cleanup)


async def _housekeeping(runtime: Runtime) -> None:
    """Expired resume codes are deleted (they already open nothing)."""
    while True:
        try:
            removed = await resume.purge(runtime.db)
            if removed:
                log.info("deleted %d expired web resume codes", removed)
        except Exception:
            log.exception("web housekeeping failed; retrying")
        await asyncio.sleep(HOUSEKEEPING_EVERY)
