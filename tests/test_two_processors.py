"""Two workers' processors on one database: every inbound message is handled exactly once,
each chat in arrival order, whichever worker took the message in and whichever sweeps."""

from __future__ import annotations

import asyncio
import warnings
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import SAWarning

from flows.engine import Engine
from flows.events import EventBus
from flows.processor import MAX_ATTEMPTS, Processor
from flows.types import Kind, Message, Reply
from profiles import load_profile
from storage import repo
from storage.db import Database
from storage.models import Conversation, InboxItem, Turn
from storage.types import utcnow

STEPS = [
    (Kind.COMMAND, {"command": "start"}),
    (Kind.CHOICE, {"choice": "start"}),
    (Kind.CHOICE, {"choice": "parent_carer"}),
    (Kind.TEXT, {"text": "Maria"}),
    (Kind.CHOICE, {"choice": "mother"}),
    (Kind.TEXT, {"text": "Amy"}),
]


async def replies_by_chat(db: Database) -> dict[str, list[str]]:
    async with db.transaction() as session:
        items = await repo.pending_outbox(session, "test", limit=10_000)
    out: dict[str, list[str]] = {}
    for item in items:
        out.setdefault(item.chat, []).append(Reply.from_json(item.payload).text)
    return out


async def test_two_processors_handle_each_message_once_and_in_order(db_url: str) -> None:
    profile = load_profile()
    dbs = [Database(db_url), Database(db_url)]
    workers = [Processor(db, Engine(profile), EventBus()) for db in dbs]
    chats = [f"c{n}" for n in range(8)]
    reference = "ref"
    for n, (kind, fields) in enumerate(STEPS):
        # The single-worker reference: the same steps, one processor, one at a time.
        await workers[0].accept(Message("test", reference, kind, external_id=f"r{n}", **fields))
        await workers[0].idle()
        # Each message of a chat reaches whichever worker the proxy picked, in arrival order.
        for c, chat in enumerate(chats):
            worker = workers[(n + c) % 2]
            await worker.accept(Message("test", chat, kind, external_id=f"{chat}-{n}", **fields))
        await asyncio.gather(*(w.sweep() for w in workers))  # both sweepers find the same rows
    for _ in range(3):
        await asyncio.gather(*(w.idle(within=30) for w in workers))
    async with dbs[0].transaction() as session:
        unprocessed = await session.scalar(
            select(func.count()).select_from(InboxItem).where(InboxItem.processed_at.is_(None))
        )
        turns_in = await session.scalar(
            select(func.count()).select_from(Turn).where(Turn.direction == "in")
        )
    assert unprocessed == 0
    assert turns_in == len(STEPS) * (len(chats) + 1)  # no message handled twice
    replies = await replies_by_chat(dbs[0])
    assert "Who are you?" in "".join(replies[reference])
    for chat in chats:
        assert replies[chat] == replies[reference]
    for db in dbs:
        await db.dispose()


async def test_two_workers_purging_at_once_both_succeed(db_url: str) -> None:
    profile = load_profile()
    dbs = [Database(db_url), Database(db_url)]
    workers = [Processor(db, Engine(profile), EventBus()) for db in dbs]
    long_ago = utcnow() - timedelta(days=profile.draft_retention_days + 1)
    async with dbs[0].transaction() as session:
        for n in range(20):  # drafts idle past the retention period, with their turns
            conv = Conversation(
                channel="test",
                chat=f"idle{n}",
                state={"answers": {"x": 1}},
                run=1,
                last_activity_at=long_ago,
            )
            session.add(conv)
            await session.flush()
            session.add(Turn(conversation_id=conv.id, run=1, direction="in", text="hello"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        await asyncio.gather(*(w.purge() for w in workers))
    # One purges, the other then finds nothing: no delete of rows already gone.
    assert [str(w.message) for w in caught if issubclass(w.category, SAWarning)] == []
    async with dbs[0].transaction() as session:
        left = await session.scalar(select(func.count()).select_from(Conversation))
    assert left == 0
    for db in dbs:
        await db.dispose()


async def test_a_message_that_keeps_failing_is_given_up_once_across_workers(db_url: str) -> None:
    profile = load_profile()

    class Broken(Engine):
        async def handle(self, session: Any, conv: Any, message: Message) -> Any:
            if message.text == "hello":
                raise RuntimeError("a bug in this turn")
            return await super().handle(session, conv, message)

    dbs = [Database(db_url), Database(db_url)]
    workers = [Processor(db, Broken(profile), EventBus()) for db in dbs]
    await workers[0].accept(Message("test", "f", Kind.COMMAND, command="start", external_id="1"))
    await workers[0].idle()
    await workers[1].accept(Message("test", "f", Kind.TEXT, text="hello", external_id="2"))
    for _ in range(3):
        await asyncio.gather(*(w.sweep() for w in workers))
        await asyncio.gather(*(w.idle(within=30) for w in workers))
    async with dbs[0].transaction() as session:
        rows = (await session.scalars(select(InboxItem).order_by(InboxItem.id))).all()
    assert [r.processed_at is not None for r in rows] == [True, True]
    assert rows[1].attempts == MAX_ATTEMPTS and rows[1].payload == {"failed": True}
    sorry = [t for t in (await replies_by_chat(dbs[0]))["f"] if "went wrong on our side" in t]
    assert len(sorry) == 1
    for db in dbs:
        await db.dispose()
