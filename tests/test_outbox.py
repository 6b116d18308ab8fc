"""The outbox sender with several workers on one database: each reply goes out once, and a
chat's replies never overtake each other, whatever fails or whoever sends."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aiogram.methods import SendMessage
from sqlalchemy import select

from bot.outbox import OutboxSender, RetryLater
from bot.telegram import make_deliver
from flows.events import EventBus
from flows.types import Reply
from storage import repo
from storage.db import Database
from storage.models import OutboxItem
from tests.fake_bot_api import FakeBotAPI


async def enqueue(db: Database, chat: str, texts: list[str], channel: str = "test") -> None:
    async with db.transaction() as session:
        for text in texts:
            await repo.enqueue_reply(session, channel, chat, Reply(text=text))


async def unsent(db: Database) -> list[OutboxItem]:
    async with db.transaction() as session:
        return list(
            (await session.scalars(select(OutboxItem).where(OutboxItem.sent_at.is_(None)))).all()
        )


class Recorder:
    """A channel's `deliver` that notes what reached whom, optionally failing first."""

    def __init__(
        self,
        name: str,
        log: list[tuple[str, str, str]],
        fail: Callable[[str], float | None] = lambda text: None,
    ) -> None:
        self.name = name
        self.log = log
        self.fail = fail

    async def __call__(self, chat: str, reply: Reply) -> None:
        await asyncio.sleep(0.002)  # let the other worker interleave
        delay = self.fail(reply.text)
        if delay is not None:
            raise RetryLater(delay, "rate limited")
        self.log.append((self.name, chat, reply.text))


async def test_two_workers_send_each_reply_once_and_in_order(db_url: str) -> None:
    first, second = Database(db_url), Database(db_url)  # two workers: two connection pools
    chats = [str(n) for n in range(12)]
    for round_ in range(4):
        for chat in chats:
            await enqueue(first, chat, [f"{chat}:{round_}"])
    log: list[tuple[str, str, str]] = []
    senders = [
        OutboxSender(db, EventBus(), "test", Recorder(name, log))
        for name, db in (("a", first), ("b", second))
    ]
    for _ in range(20):
        await asyncio.gather(*(s.send_pending() for s in senders))
        if not await unsent(first):
            break
    delivered = [(chat, text) for _, chat, text in log]
    assert sorted(delivered) == sorted((c, f"{c}:{r}") for c in chats for r in range(4))
    for chat in chats:  # no duplicates, and each chat's replies in the order written
        assert [t for c, t in delivered if c == chat] == [f"{chat}:{r}" for r in range(4)]
    await first.dispose()
    await second.dispose()


async def test_a_reply_that_must_wait_holds_back_the_rest_of_its_chat(db: Database) -> None:
    await enqueue(db, "held", ["first", "second"])
    await enqueue(db, "other", ["unaffected"])
    failures = {"first": 1}

    def fail(text: str) -> float | None:
        if failures.get(text):
            failures[text] -= 1
            return 0.4
        return None

    log: list[tuple[str, str, str]] = []
    sender = OutboxSender(db, EventBus(), "test", Recorder("a", log, fail))
    await sender.send_pending()
    await sender.send_pending()  # "second" is due, but must not overtake "first"
    assert [t for _, _, t in log] == ["unaffected"]
    await asyncio.sleep(0.5)
    await sender.send_pending()
    assert [t for _, c, t in log if c == "held"] == ["first", "second"]


async def test_a_dead_workers_claim_expires_and_another_worker_sends(db: Database) -> None:
    await enqueue(db, "c", ["hello", "again"])
    async with db.transaction() as session:  # a worker claims, then is killed
        claimed = await repo.claim_outbox(session, "test", lease=0.3)
    assert [i.payload["text"] for i in claimed] == ["hello", "again"]
    log: list[tuple[str, str, str]] = []
    survivor = OutboxSender(db, EventBus(), "test", Recorder("b", log))
    assert await survivor.send_pending() is False  # leased: not sent twice
    await asyncio.sleep(0.4)
    assert await survivor.send_pending() is True
    assert [t for _, _, t in log] == ["hello", "again"]


async def test_a_long_reply_cut_short_by_a_rate_limit_resumes_at_the_failed_part(
    db: Database, fake: FakeBotAPI
) -> None:
    paragraphs = [f"Part {n}. " + "x" * 3000 for n in range(3)]
    await enqueue(db, "5150", ["\n\n".join(paragraphs)], channel="telegram")
    bot = fake.make_bot()
    calls = 0

    async def second_part_rate_limited(make_request: Any, bot_: Any, method: Any) -> Any:
        nonlocal calls
        if isinstance(method, SendMessage):
            calls += 1
            if calls == 2:
                fake.fail_next("sendMessage", status=429, retry_after=1)
        return await make_request(bot_, method)

    bot.session.middleware(second_part_rate_limited)
    sender = OutboxSender(db, EventBus(), "telegram", make_deliver(bot))
    try:
        fake.push_text(5150, "hello")  # the person has opened the chat
        for _ in range(40):
            await sender.send_pending()
            if not await unsent(db):
                break
            await asyncio.sleep(0.1)
    finally:
        await bot.session.close()
    texts = [m["plain_text"] for m in fake.sent(5150, methods=["sendMessage"])]
    assert [t.split(".")[0] for t in texts] == ["Part 0", "Part 1", "Part 2"]
    assert calls == 4  # part 0, part 1 (429), then part 1 and part 2 again: nothing twice


async def test_a_worker_leaves_alone_the_chats_it_cannot_reach(db: Database) -> None:
    """Web chat: the window is open on one worker; another must not claim (and fail, and
    delay by minutes) that chat's replies."""
    await enqueue(db, "here", ["for the window on worker a"])
    log: list[tuple[str, str, str]] = []
    elsewhere = OutboxSender(db, EventBus(), "test", Recorder("b", log), reachable=list)
    holder = OutboxSender(db, EventBus(), "test", Recorder("a", log), reachable=lambda: ["here"])
    assert await elsewhere.send_pending() is False
    assert await holder.send_pending() is True
    assert log == [("a", "here", "for the window on worker a")]
