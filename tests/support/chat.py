"""Drive the real engine and processor in-process, as a channel would."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from flows.engine import Engine
from flows.events import EventBus
from flows.intake import RateLimits
from flows.processor import Processor
from flows.types import Kind, Message, Reply
from profiles import load_profile
from storage import repo
from storage.db import Database
from storage.models import Contact, Conversation

_ids = itertools.count(1)
# These tests type about a hundred messages a second; the real rate limit has its own tests
# (tests/test_rate_limit.py), so here it is scaled far beyond any test's pace.
MACHINE_SPEED = RateLimits.from_profile(load_profile(), factor=1000)


class Chat:
    """One person's conversation; `say`/`click`/`command` return the replies to that turn."""

    def __init__(self, db: Database, *, chat: str = "1", channel: str = "test",
                 language: str | None = "en", analyse: Callable[..., Any] | None = None,
                 processor: Processor | None = None) -> None:
        self.db = db
        self.chat = chat
        self.channel = channel
        self.language = language
        self.bus = EventBus()
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.processor = processor or Processor(db, Engine(load_profile(), analyse=analyse),
                                                self.bus, limits=MACHINE_SPEED)
        for topic in ("contact.red", "contact.changed"):
            self.processor.bus.subscribe(topic, self._record(topic))
        self.last: Reply | None = None

    def _record(self, topic: str) -> Callable[[dict[str, Any]], Any]:
        async def listener(event: dict[str, Any]) -> None:
            self.events.append((topic, event))
        return listener

    async def send(self, message: Message) -> list[Reply]:
        await self.processor.accept(message)
        await asyncio.sleep(0)
        await self.processor.idle(within=20)
        async with self.db.transaction() as session:
            items = [i for i in await repo.pending_outbox(session, self.channel, limit=1000)
                     if i.chat == self.chat]
            replies = [Reply.from_json(i.payload) for i in items]
            for item in items:
                await repo.mark_sent(session, item.id)
        await asyncio.sleep(0)
        if replies:
            self.last = replies[-1]
        return replies

    def _msg(self, kind: Kind, **fields: Any) -> Message:
        return Message(self.channel, self.chat, kind, language=self.language,
                       external_id=f"u{next(_ids)}", **fields)

    async def say(self, text: str) -> list[Reply]:
        return await self.send(self._msg(Kind.TEXT, text=text))

    async def click(self, choice: str) -> list[Reply]:
        """Press a button of the last reply (sending back its question, as channels do)."""
        question = ""
        if self.last is not None:
            offered = [c.id for c in self.last.choices]
            assert choice in offered, f"{choice!r} not offered; buttons are {offered}"
            question = self.last.question
        return await self.send(self._msg(Kind.CHOICE, choice=choice, question=question))

    async def command(self, name: str, arg: str = "") -> list[Reply]:
        return await self.send(self._msg(Kind.COMMAND, command=name, text=arg))

    async def conversation(self) -> Conversation | None:
        async with self.db.transaction() as session:
            return await session.scalar(select(Conversation).where(
                Conversation.channel == self.channel, Conversation.chat == self.chat))

    async def contacts(self) -> list[Contact]:
        async with self.db.transaction() as session:
            return list((await session.scalars(
                select(Contact).where(Contact.chat == self.chat).order_by(Contact.id))).all())


# A complete parent's self-referral: (action, value) pairs, as buttons and typed text.
PARENT_JOURNEY: list[tuple[str, str]] = [
    ("command", "start"), ("click", "start"), ("click", "parent_carer"), ("say", "Maria"),
    ("click", "mother"), ("say", "Amy"), ("say", "14/03/2016"), ("click", "girl"),
    ("say", "Oak Farm Primary"), ("click", "no"), ("click", "yes"),
    ("click", "mothers_partner"), ("say", "Dan"), ("say", "34"), ("click", "no"),
    ("click", "no"), ("click", "elsewhere"), ("click", "yes"), ("click", "no"),
    ("say", "12 High Street"), ("say", "UB8 1QS"),
    ("say", "Amy has been really angry since her dad left and we are behind on rent."),
    ("say", "Parenting support and help with money worries"), ("click", "skip"),
    ("click", "skip"), ("click", "none"), ("click", "yes"), ("click", "some"),
    ("say", "Please don't share anything with my ex-partner's family"), ("click", "yes"),
    ("click", "yes"), ("say", "07911 123456"), ("click", "no"), ("click", "yes"),
    ("click", "evening"), ("click", "yes"),
]


async def play(chat: Chat, steps: list[tuple[str, str]]) -> list[Reply]:
    replies: list[Reply] = []
    for action, value in steps:
        replies = await getattr(chat, action)(value)
    return replies
