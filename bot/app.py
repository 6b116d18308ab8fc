"""`frontdoor run`: web server (health, web chat, console), Telegram, and background work."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from aiohttp import web

from bot import gc_freeze, glibc_malloc
from bot.outbox import OutboxSender
from bot.runtime import Runtime, build_runtime
from bot.settings import Settings

log = logging.getLogger("frontdoor.app")
RUNTIME = web.AppKey("runtime", Runtime)


async def healthz(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    try:
        async with runtime.db.transaction() as session:
            await session.execute(__import__("sqlalchemy").text("SELECT 1"))
    except Exception:
        return web.json_response({"status": "error", "database": "unavailable"}, status=503)
    return web.json_response({"status": "ok"})


def build_app(runtime: Runtime) -> web.Application:
    """One web server: health check, web chat, officer console and REST API."""
    import bot.web
    import triage.web

    app = web.Application(client_max_size=1024 * 1024)
    app[RUNTIME] = runtime
    app.router.add_get("/healthz", healthz)
    bot.web.setup(app, runtime)
    triage.web.setup(app, db=runtime.db, profile=runtime.profile, bus=runtime.bus,
                     settings=runtime.settings)
    return app


async def serve(settings: Settings, *, stop: asyncio.Event | None = None) -> None:
    import triage.alerts

    runtime = await build_runtime(settings)
    app = build_app(runtime)
    alerts = triage.alerts.start(runtime.db, runtime.profile, runtime.bus, settings)
    tasks: list[asyncio.Task[None]] = []
    telegram = None
    if settings.telegram_enabled:
        from bot.telegram import CHANNEL, TelegramChannel, make_deliver

        telegram = TelegramChannel(settings, runtime.processor)
        if telegram.webhook_mode:
            telegram.mount_webhook(app)
        sender = OutboxSender(runtime.db, runtime.bus, CHANNEL, make_deliver(telegram.bot),
                              lease=settings.outbox_lease)
        runtime.processor.register_handoff(CHANNEL, sender)
        tasks.append(asyncio.create_task(sender.run(), name="telegram-sender"))

    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    await site.start()
    log.info("web server on http://%s:%d", settings.host, settings.port)
    tasks.append(asyncio.create_task(runtime.processor.run_sweeper(), name="sweeper"))
    tasks.append(asyncio.create_task(glibc_malloc.trim_every(), name="malloc-trim"))
    if telegram is not None:
        await telegram.set_commands()
        if telegram.webhook_mode:
            await telegram.start_webhook()
            log.info("telegram: webhook mode")
        else:
            tasks.append(asyncio.create_task(telegram.poll(), name="telegram-polling"))
            log.info("telegram: long polling")

    frozen = gc_freeze.freeze()  # start-up is over: what exists now lives as long as we do
    log.debug("%d start-up objects frozen", frozen)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    print(f"Front Door is running on http://{settings.host}:{settings.port}", flush=True)
    await stop.wait()
    log.info("shutting down")
    if telegram is not None:
        await telegram.stop()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await alerts.stop()
    await runner.cleanup()
    await runtime.close()
