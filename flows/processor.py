"""Inbox processing: every inbound message is stored first, then handled exactly once, in order.

A channel calls `accept()` (a fast insert) and acknowledges the platform only after it
returns, so a crash at any point loses nothing: unprocessed inbox rows are picked up at
start-up and by a periodic sweep. Each inbox row is handled in one transaction together with
the conversation state, the turn log, any contact and the outbound replies (outbox).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from flows import events, intake
from flows.engine import Engine
from flows.i18n import N_, available_languages, translator
from flows.intake import RateLimits
from flows.render import base_params, fill
from flows.types import Flag, Message, Reply
from storage import abuse, repo, retention
from storage.batch_sql import among
from storage.db import Database
from storage.models import Contact, Conversation, InboxItem, OutboxItem
from storage.types import utcnow

log = logging.getLogger("frontdoor.processor")

MAX_ATTEMPTS = 3
BATCH_CHATS = 32  # chats handled in one transaction
RUNNERS = 2  # batches in flight at once: one waits on the database while the other computes
SPOOL_LIMIT = 10_000  # messages held in memory while the database is away
DATABASE_DOWN = (OperationalError, DBAPIError, OSError, TimeoutError)
UNAVAILABLE_EVERY = 60.0  # seconds between "we're away" notices to a chat whose updates bounce
# What a refused sender is told (flows/intake.py), always with the emergency numbers.
_NOTICES = {
    "rate": N_(
        "You're sending messages very fast, so I couldn't take your last one. Please wait a "
        "minute, then send it again. Your earlier answers are safe.\n\nIf a child is in "
        "danger, call {emergency} now. The hub is there 24 hours a day on {hub_phone}."),
    "blocked": N_(
        "The {hub_name} has paused messages from this chat, so I can't carry on here.\n\n"
        "If you need the hub, phone {hub_phone}. They are there 24 hours a day. If a child "
        "is in danger right now, call {emergency}."),
}


# The batch `Processor.collect()` gathers `accept()` calls into, in this task.
_collecting: ContextVar[list[Message] | None] = ContextVar("frontdoor_collecting", default=None)


class Handoff(Protocol):
    """A channel's sender in this process (bot/outbox.py), seen from the engine's side."""

    lease: float  # seconds a reply handed over is kept from other workers' claims

    def reaches(self, chat: str) -> bool: ...

    def take(self, chat: str, items: list[OutboxItem]) -> None: ...


class DatabaseAway(Exception):
    """The message was not stored; the platform must deliver it again later."""


class Processor:
    def __init__(self, db: Database, engine: Engine, bus: events.EventBus, *,
                 limits: RateLimits | None = None) -> None:
        self.db = db
        self.engine = engine
        self.bus = bus
        self.limits = limits or RateLimits.from_profile(engine.profile)
        self._ready: dict[tuple[str, str], None] = {}  # chats with work, oldest first
        self._busy: set[tuple[str, str]] = set()  # chats a runner is handling now
        self._runners: set[asyncio.Task[None]] = set()
        self._handoffs: dict[str, Handoff] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._spool: list[Message] = []
        self._spool_task: asyncio.Task[None] | None = None
        self._told: dict[tuple[str, str], float] = {}  # when a chat was told we're away

    # --- intake -------------------------------------------------------------------------

    async def accept(self, message: Message, *, hold: bool = True) -> bool:
        """Store an inbound message. False when the platform sent the same update again.

        While the database is away a message is held in memory (`hold`), or, for a platform
        that re-sends what it could not deliver (webhooks, several workers), refused with
        DatabaseAway: one worker's memory can't keep a person's messages in order when the
        next one reaches another worker. Either way the person is told at once.

        Inside `collect()` the message only joins the batch, stored when the batch closes.
        """
        batch = _collecting.get()
        if batch is not None:
            batch.append(message)
            return True
        return not await self.accept_many([message], hold=hold)

    @contextlib.asynccontextmanager
    async def collect(self) -> AsyncIterator[list[Message]]:
        """Gather every `accept()` inside the block and store them in one transaction when it
        ends (long polling: a getUpdates batch, confirmed to the platform only afterwards)."""
        batch: list[Message] = []
        token = _collecting.set(batch)
        try:
            yield batch
        finally:
            _collecting.reset(token)
        if batch:
            await self.accept_many(batch, hold=True)

    async def accept_many(self, messages: list[Message], *, hold: bool = True) -> list[Message]:
        """Store messages in order, in one transaction. Returns the ones the platform had
        sent before (already stored, so ignored)."""
        if self._spool and hold:  # keep order: while anything waits, new messages queue behind
            for message in messages:
                self._hold(message)
            return []
        refused: list[Message] = []
        try:
            async with self.db.transaction() as session:
                admitted, refused = await self._admit(session, messages)
                stored = await repo.store_inbound(session, admitted)
        except DATABASE_DOWN as exc:
            if not _connection_lost(exc):  # a bug, not an outage: say so (names only: the
                # database's own message may quote a person's data)
                log.error("storing %d message(s) failed with a database error that is not a "
                          "lost connection (%s from %s); handled as an outage, nothing is lost",
                          len(messages), type(exc).__name__,
                          type(getattr(exc, "orig", None) or exc).__name__)
            if not hold:
                log.error("database unavailable; a message refused for redelivery (%s)",
                          type(exc).__name__)
                for message in messages:
                    self._tell_unavailable(message, throttle=True)
                raise DatabaseAway("database unavailable") from exc
            log.error("database unavailable; holding %d message(s) (%s)", len(messages),
                      type(exc).__name__)
            for message in messages:
                self._hold(message)
            return []
        duplicates = [m for m in admitted if m.external_id is not None
                      and (m.channel, m.external_id) not in stored]
        if duplicates:
            log.info("duplicate update ignored (%d)", len(duplicates))
        if refused:  # not stored; any notice to the person is in the outbox
            for channel in {m.channel for m in refused}:
                self.bus.emit(events.OUTBOX, {"channel": channel})
        for message in admitted:
            if message not in duplicates:
                self._told.pop((message.channel, message.chat), None)
                self.schedule(message.channel, message.chat)
        return duplicates

    async def _admit(
        self, session: AsyncSession, messages: list[Message]
    ) -> tuple[list[Message], list[Message]]:
        """The rate limit and blocks (flows/intake.py): two indexed queries for a whole batch
        when all is well. Returns (admitted, refused).

        A refused message is still risk-checked; immediate or urgent gets in regardless.
        Otherwise the person gets a kind notice with the emergency numbers, once a window.
        """
        now = utcnow()
        admitted: list[Message] = []
        refused: list[Message] = []
        earlier: Counter[tuple[str, str]] = Counter()  # admitted earlier in this batch
        for channel in dict.fromkeys(m.channel for m in messages):
            statuses = await abuse.sender_statuses(
                session, channel, [m.chat for m in messages if m.channel == channel], now=now,
                burst_seconds=self.limits.burst_seconds)
            for message in (m for m in messages if m.channel == channel):
                status = statuses[message.chat]
                before = earlier[(channel, message.chat)]
                verdict = intake.judge(self.limits, recent=status.recent + before,
                                       last_minute=status.last_minute + before,
                                       block_id=status.block_id)
                if not verdict.refused or await self._let_in(session, message, verdict, now):
                    admitted.append(message)
                    earlier[(channel, message.chat)] += 1
                else:
                    refused.append(message)
        order = {id(m): n for n, m in enumerate(messages)}
        admitted.sort(key=lambda m: order[id(m)])  # as they came, whatever their channel
        return admitted, refused

    async def _let_in(
        self, session: AsyncSession, message: Message, verdict: intake.Verdict,
        now: datetime,
    ) -> bool:
        """A refused message: let in for an immediate or urgent risk, otherwise tell the
        person (once a window)."""
        language = await abuse.sender_language(session, message.channel, message.chat)
        risk = intake.escalates(message, language, self.engine.analyse)
        if risk is not None:
            if verdict.block_id is not None:
                await repo.audit(session, "system", "blocked_sender_risk",
                                 detail={"block": verdict.block_id, "urgency": risk})
            log.warning("refused sender let in for a %s risk (channel=%s, blocked=%s)",
                        risk, message.channel, verdict.block_id is not None)
            return True
        log.info("message refused (channel=%s, reason=%s)", message.channel,
                 verdict.notice_kind)
        if await abuse.claim_notice(session, message.channel, message.chat,
                                    verdict.notice_kind, now=now,
                                    every=intake.notice_window(self.limits, verdict)):
            await repo.enqueue_reply(session, message.channel, message.chat,
                                     self._urgent_notice(language or message.language,
                                                         _NOTICES[verdict.notice_kind]))
        return False

    def _hold(self, message: Message) -> None:
        """The database is away: keep the message, and tell the person straight away."""
        if len(self._spool) < SPOOL_LIMIT:
            self._spool.append(message)
        self._tell_unavailable(message)
        if self._spool_task is None or self._spool_task.done():
            self._spool_task = asyncio.get_running_loop().create_task(self._unspool())

    def _tell_unavailable(self, message: Message, *, throttle: bool = False) -> None:
        """Straight to the platform, no database needed. `throttle`: once a minute per chat,
        since a refused update comes back again and again until the database is back."""
        key = (message.channel, message.chat)
        now = asyncio.get_running_loop().time()
        if throttle and now - self._told.get(key, -UNAVAILABLE_EVERY) < UNAVAILABLE_EVERY:
            return
        self._told[key] = now
        notice = self._urgent_notice(message.language, N_(
            "Sorry, I can't save messages right now because of a problem on our side. I'm "
            "keeping yours and will answer as soon as I can.\n\nIf a child is in danger, "
            "call {emergency} now. The hub is there 24 hours a day on {hub_phone}."))
        self.bus.emit(events.UNAVAILABLE, {"channel": message.channel, "chat": message.chat,
                                           "reply": notice})

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
        """Mark a chat as having work; runners take ready chats in batches."""
        self._ready[(channel, chat)] = None
        if len(self._runners) < RUNNERS:
            task = asyncio.get_running_loop().create_task(self._run())
            self._runners.add(task)
            self._tasks.add(task)
            task.add_done_callback(self._runners.discard)
            task.add_done_callback(self._tasks.discard)

    def register_handoff(self, channel: str, handoff: Handoff) -> None:
        """A sender in this process that takes a turn's replies straight after the commit."""
        self._handoffs[channel] = handoff

    # --- processing -----------------------------------------------------------------------

    async def _run(self) -> None:
        """Take up to BATCH_CHATS ready chats (none another runner holds) and handle one
        message of each in one transaction, until nothing is ready."""
        while True:
            keys = [key for key in self._ready if key not in self._busy][:BATCH_CHATS]
            if not keys:
                return
            for key in keys:
                del self._ready[key]
            self._busy.update(keys)
            try:
                again = await self._process_batch(keys)
            finally:
                self._busy.difference_update(keys)
            for key in again:
                self._ready[key] = None

    async def _process_batch(self, keys: list[tuple[str, str]]) -> set[tuple[str, str]]:
        """The oldest message of each chat, handled together: the statements of all the turns
        are grouped (a handful per batch, not per turn). Any failure rolls the whole batch
        back and the chats go one at a time (`_process_next`), where a failing turn is
        counted and, in the end, the person told. Returns the chats with more waiting."""
        events_out: list[tuple[str, dict[str, object]]] = []
        handoffs: list[tuple[Handoff, str, list[OutboxItem]]] = []
        outgoing: list[tuple[str, str, Reply, int | None, float | None]] = []
        handled: list[int] = []  # inbox ids
        erased: list[int] = []  # inbox ids of turns that erased their conversation
        queued: set[str] = set()
        try:
            async with self.db.transaction() as session:
                await self._chat_locks(session, keys)
                heads, more = await _pending_heads(session, keys)
                messages = {key: Message.from_json(item.payload) for key, item in heads.items()}
                conversations = await _conversations(session, list(heads))
                fresh = {key: self._conversation_for(messages[key])
                         for key in heads if key not in conversations}
                session.add_all(fresh.values())
                conversations.update(fresh)
                # One flush for the new conversations and one query for the open contacts, so
                # the turns below find theirs in the session instead of each flushing and
                # querying on its own (the unit of work then writes each table once).
                if fresh:
                    await session.flush()
                contacts = await _contacts(session, conversations.values())
                direct = await self._direct(session, list(heads))
                for key, item in heads.items():
                    channel, chat = key
                    message = messages[key]
                    conv = conversations[key]
                    result = await self.engine.handle(session, conv, message)
                    handoff = direct.get(key)
                    lease = handoff.lease if handoff is not None else None
                    contact_id = None if result.deleted else conv.contact_id
                    outgoing += [(channel, chat, reply, contact_id, lease)
                                 for reply in result.replies]
                    (erased if result.deleted else handled).append(item.id)
                    events_out += result.events
                    if result.replies and handoff is None:
                        queued.add(channel)
                del contacts  # held in the identity map until every turn had its own
                by_chat: dict[tuple[str, str], list[OutboxItem]] = {}
                for written in await repo.enqueue_replies(session, outgoing):
                    by_chat.setdefault((written.channel, written.chat), []).append(written)
                await repo.mark_processed(session, handled)
                await repo.mark_processed(session, erased, erased=True)
                handoffs = [(direct[key], key[1], written) for key, written in by_chat.items()
                            if key in direct]
        except Exception as exc:
            log.warning("a batch of %d chats failed (%s); handling them one by one",
                        len(keys), type(exc).__name__)
            return await self._one_by_one(keys)
        for topic, event in events_out:
            self.bus.emit(topic, event)
        for handoff, chat, replies in handoffs:
            handoff.take(chat, replies)
        for channel in queued:
            self.bus.emit(events.OUTBOX, {"channel": channel})
        return more

    async def _one_by_one(self, keys: list[tuple[str, str]]) -> set[tuple[str, str]]:
        again: set[tuple[str, str]] = set()
        for key in keys:
            try:
                if await self._process_next(*key):
                    again.add(key)
            except Exception:
                log.exception("processing stopped for a chat; the sweep will retry")
        return again

    async def _direct(
        self, session: AsyncSession, keys: list[tuple[str, str]]
    ) -> dict[tuple[str, str], Handoff]:
        """The chats whose replies this worker can send itself right after the commit: a
        sender here reaches them and nothing of theirs is still waiting, so nothing can be
        overtaken. The rest go through the outbox claim (bot/outbox.py)."""
        direct: dict[tuple[str, str], Handoff] = {}
        for channel, handoff in self._handoffs.items():
            chats = [chat for ch, chat in keys if ch == channel and handoff.reaches(chat)]
            waiting = await repo.chats_with_unsent(session, channel, chats)
            direct.update({(channel, chat): handoff for chat in chats if chat not in waiting})
        return direct

    async def _chat_locks(self, session: AsyncSession, keys: list[tuple[str, str]]) -> None:
        """`_chat_lock` for several chats in one statement, in key order, so two workers
        locking overlapping batches can't deadlock."""
        if self.db.is_postgres:
            await session.execute(
                text("SELECT count(pg_advisory_xact_lock(k)) "
                     "FROM unnest(CAST(:keys AS BIGINT[])) AS k"),
                {"keys": sorted({_lock_key(*key) for key in keys})},
            )

    async def _process_next(self, channel: str, chat: str) -> bool:
        """Handle the oldest unprocessed message of one chat. True when another one waits."""
        events_out: list[tuple[str, dict[str, object]]] = []
        item_id: int | None = None
        try:
            async with self.db.transaction() as session:
                await self._chat_lock(session, channel, chat)
                item, more = await _pending_head(session, channel, chat)
                if item is None:
                    return False
                item_id = item.id
                message = Message.from_json(item.payload)
                conv = await self._conversation(session, message)
                result = await self.engine.handle(session, conv, message)
                for reply in result.replies:
                    await repo.enqueue_reply(session, channel, chat, reply,
                                             contact_id=None if result.deleted else conv.contact_id)
                await repo.mark_processed(session, [item.id], erased=result.deleted)
                events_out = result.events
        except Exception:
            if item_id is None:
                raise  # not even a message read: the database is away; the sweep retries
            await self._failed(channel, chat, item_id)
            return True
        for topic, event in events_out:
            self.bus.emit(topic, event)
        self.bus.emit(events.OUTBOX, {"channel": channel})
        return more

    async def _chat_lock(self, session: AsyncSession, channel: str, chat: str) -> None:
        """Several workers on one PostgreSQL: one chat's messages are handled one at a time."""
        if self.db.is_postgres:
            await session.execute(text("SELECT pg_advisory_xact_lock(:k)"),
                                  {"k": _lock_key(channel, chat)})

    async def _conversation(self, session: AsyncSession, message: Message) -> Conversation:
        conv = await session.scalar(
            select(Conversation).where(Conversation.channel == message.channel,
                                       Conversation.chat == message.chat)
        )
        return conv or await self._new_conversation(session, message)

    async def _new_conversation(self, session: AsyncSession, message: Message) -> Conversation:
        conv = self._conversation_for(message)
        session.add(conv)
        await session.flush()
        return conv

    def _conversation_for(self, message: Message) -> Conversation:
        language = message.language if message.language in available_languages() else None
        return Conversation(channel=message.channel, chat=message.chat,
                            language=language or self.engine.profile.raw["default_language"],
                            state={}, run=1)

    async def _failed(self, channel: str, chat: str, item_id: int) -> None:
        """A turn that keeps failing: tell the person kindly, keep their answers, move on.

        Under the chat's lock and by id: another worker may have handled it meanwhile."""
        log.exception("a turn failed (channel=%s)", channel)
        async with self.db.transaction() as session:
            await self._chat_lock(session, channel, chat)
            item = await session.get(InboxItem, item_id)
            if item is None or item.processed_at is not None:
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
        held for safeguarding), and handled inbox/outbox rows and ended officer sessions
        (storage/retention.py). Every worker runs this; they take turns, so the second finds
        nothing left instead of deleting twice."""
        profile = self.engine.profile
        cutoff = utcnow() - timedelta(days=profile.draft_retention_days)
        closed_cutoff = utcnow() - timedelta(days=profile.closed_retention_days)
        async with self.db.transaction() as session:
            await repo.xact_lock(session, repo.LOCK_PURGE, 0)
            removed = await repo.purge_expired_drafts(session, cutoff)
            erased = await repo.purge_closed_contacts(session, closed_cutoff)
            plumbing = await retention.purge_delivery_log(
                session, now=utcnow(), delivery_log_days=profile.delivery_log_retention_days,
                undelivered_days=profile.draft_retention_days)
        if removed or erased:
            log.info("retention: %d drafts deleted, %d closed contacts erased", removed, erased)
        if plumbing:
            log.info("retention: %d inbox rows, %d sent and %d undelivered replies, %d officer "
                     "sessions deleted", plumbing.inbox, plumbing.outbox_sent,
                     plumbing.outbox_unsent, plumbing.sessions)

    async def idle(self, within: float = 10.0) -> None:
        """Wait until nothing is scheduled (tests and graceful shutdown)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while self._tasks and loop.time() < deadline:
            await asyncio.wait(set(self._tasks), timeout=deadline - loop.time())


async def _pending_head(
    session: AsyncSession, channel: str, chat: str
) -> tuple[InboxItem | None, bool]:
    """The oldest unprocessed message and whether another waits behind it, so draining a chat
    needs no extra transaction (a write lock on SQLite) just to learn that it is done. A message
    stored meanwhile still gets its turn: `schedule` marks the chat to be drained again."""
    pending = (
        select(InboxItem)
        .where(
            InboxItem.channel == channel,
            InboxItem.chat == chat,
            InboxItem.processed_at.is_(None),
        )
        .order_by(InboxItem.id)
        .limit(2)
    )
    rows = (await session.scalars(pending)).all()
    return (rows[0] if rows else None), len(rows) > 1


def _connection_lost(exc: BaseException) -> bool:
    """The database is away or the link to it broke (as opposed to a statement it refused)."""
    if isinstance(exc, DBAPIError):
        return exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError)
    return True  # OSError, TimeoutError: the network


def _lock_key(channel: str, chat: str) -> int:
    """The chat's advisory lock (the one-bigint form; repo.xact_lock uses the two-int form)."""
    return zlib.crc32(f"{channel}:{chat}".encode()) - 2**31


async def _pending_heads(
    session: AsyncSession, keys: list[tuple[str, str]]
) -> tuple[dict[tuple[str, str], InboxItem], set[tuple[str, str]]]:
    """Each chat's oldest unprocessed message, and the chats with another behind it."""
    heads: dict[tuple[str, str], InboxItem] = {}
    more: set[tuple[str, str]] = set()
    for channel in dict.fromkeys(channel for channel, _ in keys):
        rows = await session.scalars(
            select(InboxItem)
            .where(InboxItem.processed_at.is_(None), InboxItem.channel == channel,
                   among(session, InboxItem.chat,
                         [chat for ch, chat in keys if ch == channel]))
            .order_by(InboxItem.id)
        )
        for item in rows:
            key = (item.channel, item.chat)
            if key in heads:
                more.add(key)
            else:
                heads[key] = item
    return heads, more


async def _contacts(session: AsyncSession, conversations: Iterable[Conversation]) -> list[Contact]:
    """The conversations' contacts, loaded together into the session's identity map (which
    holds them weakly: the caller keeps the list until the turns are done)."""
    ids = [conv.contact_id for conv in conversations if conv.contact_id]
    if not ids:
        return []
    return list((await session.scalars(select(Contact).where(among(session, Contact.id, ids))))
                .all())


async def _conversations(
    session: AsyncSession, keys: list[tuple[str, str]]
) -> dict[tuple[str, str], Conversation]:
    found: dict[tuple[str, str], Conversation] = {}
    for channel in dict.fromkeys(channel for channel, _ in keys):
        rows = await session.scalars(select(Conversation).where(
            Conversation.channel == channel,
            among(session, Conversation.chat,
                  [chat for ch, chat in keys if ch == channel])))
        found.update({(conv.channel, conv.chat): conv for conv in rows})
    return found
