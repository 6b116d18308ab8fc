"""Inbox processing: every inbound message is stored first, then handled exactly once, in order.

A channel calls `accept()` (a fast insert) and acknowledges the platform only after it
returns, so a crash at any point loses nothing: unprocessed inbox rows are picked up at
start-up and by a periodic sweep. Each inbox row is handled in one transaction together with
the conversation state, the turn log, any contact and the outbound replies (outbox).
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from datetime import timedelta

from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from flows import events
from flows.engine import Engine
from flows.i18n import N_, available_languages, translator
from flows.render import base_params, fill
from flows.types import Flag, Message, Reply
from storage import repo
from storage.db import Database
from storage.models import Conversation, InboxItem
from storage.types import utcnow

log = logging.getLogger("frontdoor.processor")

MAX_ATTEMPTS = 3
SPOOL_LIMIT = 10_000  # messages held in memory while the database is away
DATABASE_DOWN = (OperationalError, DBAPIError, OSError, TimeoutError)


class Processor:
    def __init__(self, db: Database, engine: Engine, bus: events.EventBus) -> None:
        self.db = db
        self.engine = engine
        self.bus = bus
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._scheduled: set[tuple[str, str]] = set()
        self._again: set[tuple[str, str]] = set()  # new work arrived while draining
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._spool: list[Message] = []
        self._spool_task: asyncio.Task[None] | None = None

    # --- intake -------------------------------------------------------------------------

    async def accept(self, message: Message) -> bool:
        """Store an inbound message. False when the platform sent the same update again."""
        item = InboxItem(channel=message.channel, chat=message.chat,
                         external_id=message.external_id, payload=message.to_json())
        if self._spool:  # keep order: while anything waits, new messages queue behind it
            self._hold(message)
            return True
        try:
            async with self.db.transaction() as session:
                session.add(item)
        except IntegrityError:
            log.info("duplicate update ignored (channel=%s)", message.channel)
            return False
        except DATABASE_DOWN as exc:
            log.error("database unavailable; holding a message (%s)", type(exc).__name__)
            self._hold(message)
            return True
        self.schedule(message.channel, message.chat)
        return True

    def _hold(self, message: Message) -> None:
        """The database is away: keep the message, and tell the person straight away."""
        if len(self._spool) < SPOOL_LIMIT:
            self._spool.append(message)
        notice = self._urgent_notice(message.language, N_(
            "Sorry, I can't save messages right now because of a problem on our side. I'm "
            "keeping yours and will answer as soon as I can.\n\nIf a child is in danger, "
            "call {emergency} now. The hub is there 24 hours a day on {hub_phone}."))
        self.bus.emit(events.UNAVAILABLE, {"channel": message.channel, "chat": message.chat,
                                           "reply": notice})
        if self._spool_task is None or self._spool_task.done():
            self._spool_task = asyncio.get_running_loop().create_task(self._unspool())

    def _urgent_notice(self, language: str | None, message: str) -> Reply:
        """A kind message about a problem on our side, always with the emergency numbers."""
        t = translator(language)  # falls back to English for a language with no catalog
        return Reply(text=fill(t(message), base_params(self.engine.profile, t)),
                     flags=frozenset({Flag.URGENT}), language=t.language, rtl=t.rtl)

    async def _unspool(self, every: float = 2.0) -> None:
        """Store held messages, oldest first, once the database answers again."""
        while self._spool:
            message = self._spool[0]
            try:
                async with self.db.transaction() as session:
                    session.add(InboxItem(channel=message.channel, chat=message.chat,
                                          external_id=message.external_id,
                                          payload=message.to_json()))
            except IntegrityError:
                pass  # already stored before the outage
            except DATABASE_DOWN:
                await asyncio.sleep(every)
                continue
            self._spool.pop(0)
            self.schedule(message.channel, message.chat)

    def schedule(self, channel: str, chat: str) -> None:
        key = (channel, chat)
        if key in self._scheduled:
            self._again.add(key)
            return
        self._scheduled.add(key)
        task = asyncio.get_running_loop().create_task(self._drain(key))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- processing -----------------------------------------------------------------------

    async def _drain(self, key: tuple[str, str]) -> None:
        lock = self._locks.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                while True:
                    self._again.discard(key)
                    while await self._process_next(*key):
                        pass
                    if key not in self._again:
                        break
        except Exception:
            log.exception("processing stopped for a chat; the sweep will retry")
        finally:
            self._scheduled.discard(key)
            if not lock.locked():
                self._locks.pop(key, None)

    async def _process_next(self, channel: str, chat: str) -> bool:
        """Handle the oldest unprocessed message of one chat. False when none is left."""
        events_out: list[tuple[str, dict[str, object]]] = []
        try:
            async with self.db.transaction() as session:
                await self._chat_lock(session, channel, chat)
                item = await _oldest_pending(session, channel, chat)
                if item is None:
                    return False
                message = Message.from_json(item.payload)
                conv = await self._conversation(session, message)
                result = await self.engine.handle(session, conv, message)
                for reply in result.replies:
                    await repo.enqueue_reply(session, channel, chat, reply,
                                             contact_id=None if result.deleted else conv.contact_id)
                item.processed_at = utcnow()
                if not result.deleted:
                    item.payload = {"processed": True}  # the words live in the turn log only
                events_out = result.events
        except Exception:
            await self._failed(channel, chat)
            return True
        for topic, event in events_out:
            self.bus.emit(topic, event)
        self.bus.emit(events.OUTBOX, {"channel": channel})
        return True

    async def _chat_lock(self, session: AsyncSession, channel: str, chat: str) -> None:
        """Several workers on one PostgreSQL: one chat's messages are handled one at a time."""
        if self.db.is_postgres:
            key = zlib.crc32(f"{channel}:{chat}".encode()) - 2**31
            await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})

    async def _conversation(self, session: AsyncSession, message: Message) -> Conversation:
        conv = await session.scalar(
            select(Conversation).where(Conversation.channel == message.channel,
                                       Conversation.chat == message.chat)
        )
        if conv is None:
            language = message.language if message.language in available_languages() else None
            conv = Conversation(channel=message.channel, chat=message.chat,
                                language=language or self.engine.profile.raw["default_language"],
                                state={}, run=1)
            session.add(conv)
            await session.flush()
        return conv

    async def _failed(self, channel: str, chat: str) -> None:
        """A turn that keeps failing: tell the person kindly, keep their answers, move on."""
        log.exception("a turn failed (channel=%s)", channel)
        async with self.db.transaction() as session:
            item = await _oldest_pending(session, channel, chat)
            if item is None:
                return
            item.attempts += 1
            if item.attempts < MAX_ATTEMPTS:
                return
            item.processed_at = utcnow()
            item.payload = {"failed": True}
            conv = await session.scalar(select(Conversation).where(
                Conversation.channel == channel, Conversation.chat == chat))
            await repo.enqueue_reply(session, channel, chat, self._urgent_notice(
                conv.language if conv else None, N_(
                    "Sorry, something went wrong on our side and I couldn't take that "
                    "message. Your earlier answers are safe. Please try again in a moment.\n\n"
                    "If a child is in danger, call {emergency}. The hub is there 24 hours a "
                    "day on {hub_phone}.")))
        self.bus.emit(events.OUTBOX, {"channel": channel})

    # --- background sweep -------------------------------------------------------------------

    async def sweep(self) -> int:
        """Schedule every chat with unprocessed messages (start-up and periodic)."""
        async with self.db.transaction() as session:
            rows = (await session.execute(
                select(InboxItem.channel, InboxItem.chat)
                .where(InboxItem.processed_at.is_(None)).distinct()
            )).all()
        for channel, chat in rows:
            self.schedule(channel, chat)
        return len(rows)

    async def run_sweeper(self, every: float = 5.0, purge_every: float = 600.0) -> None:
        loop = asyncio.get_running_loop()
        purged_at = -purge_every
        while True:
            try:
                await self.sweep()
                if loop.time() - purged_at >= purge_every:
                    await self.purge()
                    purged_at = loop.time()
            except Exception as exc:  # the database may be away; try again next round
                log.error("sweep failed (%s); retrying", type(exc).__name__)
            await asyncio.sleep(every)

    async def purge(self) -> None:
        """Retention: drafts idle 30 days, closed contacts past the profile's period (unless
        held for safeguarding), and the words in processed inbox rows."""
        profile = self.engine.profile
        cutoff = utcnow() - timedelta(days=profile.draft_retention_days)
        closed_cutoff = utcnow() - timedelta(days=profile.closed_retention_days)
        async with self.db.transaction() as session:
            removed = await repo.purge_expired_drafts(session, cutoff)
            erased = await repo.purge_closed_contacts(session, closed_cutoff)
            await session.execute(
                update(InboxItem)
                .where(InboxItem.processed_at.is_not(None),
                       InboxItem.received_at < utcnow() - timedelta(days=1))
                .values(payload={})
            )
        if removed or erased:
            log.info("retention: %d drafts deleted, %d closed contacts erased", removed, erased)

    async def idle(self, within: float = 10.0) -> None:
        """Wait until nothing is scheduled (tests and graceful shutdown)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=within)


async def _oldest_pending(session: AsyncSession, channel: str, chat: str) -> InboxItem | None:
    return await session.scalar(
        select(InboxItem)
        .where(InboxItem.channel == channel, InboxItem.chat == chat,
               InboxItem.processed_at.is_(None))
        .order_by(InboxItem.id).limit(1)
    )
