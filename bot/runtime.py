"""Wiring shared by every entry point: database, profile, engine, processor, event bus."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.settings import Settings
from flows.engine import Engine
from flows.events import EventBus
from flows.intake import RateLimits
from flows.processor import Processor
from profiles import Profile, load_profile
from storage.db import Database
from storage.keys import verify_sample
from storage.migrate import upgrade


@dataclass
class Runtime:
    settings: Settings
    db: Database
    profile: Profile
    bus: EventBus
    engine: Engine
    processor: Processor

    async def close(self) -> None:
        await self.db.dispose()


async def build_runtime(settings: Settings, *, migrate: bool = True) -> Runtime:
    if migrate:
        await upgrade(settings.database_url)
    import nlu

    nlu.load()  # pay the model load once, at start-up, not in someone's first message
    profile = load_profile(settings.profile)
    db = Database(settings.database_url)
    await verify_sample(db)  # a wrong data key stops here, with the operator's message
    bus = EventBus()
    engine = Engine(profile)
    limits = RateLimits.from_profile(profile, settings.rate_limit_factor)
    return Runtime(settings, db, profile, bus, engine, Processor(db, engine, bus, limits=limits))


# Libraries that log queries, parameters or update bodies at DEBUG/INFO: never below WARNING,
# whatever FRONTDOOR_LOG_LEVEL says (aiosqlite logs every query's arguments at DEBUG).
QUIET = ("aiosqlite", "asyncpg", "sqlalchemy", "aiogram.event", "aiogram.dispatcher",
         "aiohttp.access", "aiohttp.server")


def setup_logging(level: str) -> None:
    """Log events and ids only: message text never goes to the log."""
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
