"""Delivering the outbox: each channel supplies `deliver(chat, reply)`; this loop does the rest.

Replies for one chat go out in order; a reply that can't go yet (rate limit, server error)
holds back the later replies of that chat only. A reply is marked sent only after the
platform accepted it, so a crash re-sends at most the one in flight.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

from flows import events
from flows.types import Reply
from storage import repo
from storage.db import Database
from storage.models import OutboxItem

log = logging.getLogger("frontdoor.outbox")


class RetryLater(Exception):
    def __init__(self, delay: float, reason: str) -> None:
        super().__init__(reason)
        self.delay = delay
        self.reason = reason


class Undeliverable(Exception):
    """The platform will never take this message (chat gone, bot blocked)."""


Deliver = Callable[[str, Reply], Awaitable[None]]


class OutboxSender:
    def __init__(self, db: Database, bus: events.EventBus, channel: str, deliver: Deliver,
                 *, poll_every: float = 1.0) -> None:
        self.db = db
        self.channel = channel
        self.deliver = deliver
        self.poll_every = poll_every
        self._wake = asyncio.Event()
        bus.subscribe(events.OUTBOX, self._on_outbox)
        bus.subscribe(events.UNAVAILABLE, self._on_unavailable)

    async def _on_unavailable(self, event: dict[str, Any]) -> None:
        """Database away: this one notice goes straight to the platform, best effort."""
        if event.get("channel") != self.channel:
            return
        try:
            await self.deliver(str(event["chat"]), event["reply"])
        except (RetryLater, Undeliverable):
            log.warning("could not tell a person the service is unavailable")

    async def _on_outbox(self, event: dict[str, Any]) -> None:
        if event.get("channel") == self.channel:
            self._wake.set()

    async def run(self) -> None:
        while True:
            try:
                busy = await self.send_pending()
            except Exception:
                log.exception("outbox round failed; retrying")
                busy = False
            if not busy:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), self.poll_every)
                except TimeoutError:
                    pass

    async def send_pending(self) -> bool:
        """One round: send what is due, chats in parallel. True if anything was sent."""
        async with self.db.transaction() as session:
            items = await repo.pending_outbox(session, self.channel, limit=200)
        if not items:
            return False
        by_chat: dict[str, list[OutboxItem]] = defaultdict(list)
        for item in items:
            by_chat[item.chat].append(item)
        results = await asyncio.gather(*(self._send_chat(chat_items)
                                         for chat_items in by_chat.values()))
        return any(results)

    async def _send_chat(self, items: list[OutboxItem]) -> bool:
        sent_any = False
        for item in items:
            try:
                await self.deliver(item.chat, Reply.from_json(item.payload))
            except RetryLater as wait:
                async with self.db.transaction() as session:
                    await repo.mark_failed(session, item.id, wait.reason, wait.delay)
                return sent_any
            except Undeliverable as gone:
                log.warning("message undeliverable (channel=%s): %s", self.channel, gone)
                async with self.db.transaction() as session:
                    await repo.mark_failed(session, item.id, str(gone), 0)
                    await repo.mark_sent(session, item.id)
                continue
            async with self.db.transaction() as session:
                await repo.mark_sent(session, item.id)
            sent_any = True
        return sent_any
