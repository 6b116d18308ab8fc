"""Delivering the outbox: each channel supplies `deliver(chat, reply)`; this loop does the rest.

Replies for one chat go out in order; a reply that can't go yet (rate limit, server error)
holds back the later replies of that chat only. A reply is marked sent only after the
platform accepted it, so a crash re-sends at most the one in flight.

Several workers may share one database: each round claims whole chats under a lease (see
`repo.claim_outbox`), so no reply is sent by two workers and a chat's replies keep their order
whoever sends them. A worker stops sending a claim well before its lease runs out.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Collection
from typing import Any

from flows import events
from flows.processor import DATABASE_DOWN
from flows.types import Reply
from storage import repo
from storage.db import Database
from storage.group_commit import GroupCommit
from storage.models import OutboxItem

log = logging.getLogger("frontdoor.outbox")


LEASE_SECONDS = 60.0  # a claim; a worker that dies mid-send has its replies re-sent after this


class RetryLater(Exception):
    """Not now. `remainder` is what is still to send when part of a reply already went out
    (a long reply goes as several messages), so a retry never repeats a part."""

    def __init__(self, delay: float, reason: str, *, remainder: Reply | None = None) -> None:
        super().__init__(reason)
        self.delay = delay
        self.reason = reason
        self.remainder = remainder


class Undeliverable(Exception):
    """The platform will never take this message (chat gone, bot blocked)."""


Deliver = Callable[[str, Reply], Awaitable[None]]


class OutboxSender:
    def __init__(
        self,
        db: Database,
        bus: events.EventBus,
        channel: str,
        deliver: Deliver,
        *,
        poll_every: float = 1.0,
        lease: float = LEASE_SECONDS,
        reachable: Callable[[], Collection[str]] | None = None,
    ) -> None:
        """`reachable`: the chats this worker can deliver to, when that is not all of them
        (a web chat's window is open on one worker; another must leave its replies alone)."""
        self.db = db
        self.channel = channel
        self.deliver = deliver
        self.poll_every = poll_every
        self.lease = lease
        self.reachable = reachable
        self._wake = asyncio.Event()
        # Marking replies sent is grouped across chats; each chat still waits for its own
        # reply's mark before sending the next, so a crash re-sends at most one per chat.
        self._acks: GroupCommit[int] = GroupCommit(db, repo.mark_sent_many)
        self._taken: set[asyncio.Task[None]] = set()
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

    # --- handoff (flows/processor.py): a turn's replies straight after its commit ----------

    def reaches(self, chat: str) -> bool:
        return self.reachable is None or chat in self.reachable()

    def take(self, chat: str, items: list[OutboxItem]) -> None:
        """Send replies the processor wrote leased to this worker: no claim round trip. What
        can't go now falls back to the outbox rounds, exactly as for a claim."""
        task = asyncio.get_running_loop().create_task(self._send_taken(items))
        self._taken.add(task)
        task.add_done_callback(self._taken.discard)

    async def _send_taken(self, items: list[OutboxItem]) -> None:
        try:
            await self._send_chat(items, asyncio.get_running_loop().time())
        except DATABASE_DOWN as exc:
            log.error("could not record a reply as sent (%s); it is sent again after its "
                      "lease", type(exc).__name__)
        except Exception:
            log.exception("sending a turn's replies failed; the outbox rounds retry")

    async def _on_outbox(self, event: dict[str, Any]) -> None:
        if event.get("channel") == self.channel:
            self._wake.set()

    async def run(self) -> None:
        while True:
            self._wake.clear()  # before the round: a reply written during it wakes the next
            try:
                busy = await self.send_pending()
            except DATABASE_DOWN as exc:  # no traceback every second while it is away
                log.error("outbox round failed (%s); retrying", type(exc).__name__)
                busy = False
            except Exception:
                log.exception("outbox round failed; retrying")
                busy = False
            if not busy:
                try:
                    await asyncio.wait_for(self._wake.wait(), self.poll_every)
                except TimeoutError:
                    pass

    async def send_pending(self) -> bool:
        """One round: claim what is due, send it, chats in parallel. True if anything was sent."""
        async with self.db.transaction() as session:
            items = await repo.claim_outbox(
                session,
                self.channel,
                lease=self.lease,
                only=None if self.reachable is None else self.reachable(),
            )
        if not items:
            return False
        claimed_at = asyncio.get_running_loop().time()
        by_chat: dict[str, list[OutboxItem]] = defaultdict(list)
        for item in items:
            by_chat[item.chat].append(item)
        results = await asyncio.gather(
            *(self._send_chat(chat_items, claimed_at) for chat_items in by_chat.values())
        )
        return any(results)

    async def _send_chat(self, items: list[OutboxItem], claimed_at: float) -> bool:
        sent_any = False
        loop = asyncio.get_running_loop()
        for n, item in enumerate(items):
            if loop.time() - claimed_at > self.lease / 2:
                # Slow platform: hand the rest back while the lease is surely still ours.
                async with self.db.transaction() as session:
                    await repo.release_outbox(session, [i.id for i in items[n:]])
                return sent_any
            try:
                await self.deliver(item.chat, Reply.from_json(item.payload))
            except RetryLater as wait:
                async with self.db.transaction() as session:
                    await repo.mark_failed(
                        session, item.id, wait.reason, wait.delay, remainder=wait.remainder
                    )
                    await repo.release_outbox(session, [i.id for i in items[n + 1 :]])
                return sent_any or wait.remainder is not None
            except Undeliverable as gone:
                log.warning("message undeliverable (channel=%s): %s", self.channel, gone)
                async with self.db.transaction() as session:
                    await repo.mark_failed(session, item.id, str(gone), 0)
                    await repo.mark_sent(session, item.id)
                continue
            await self._acks.submit(item.id)
            sent_any = True
        return sent_any
