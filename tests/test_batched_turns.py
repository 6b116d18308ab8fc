"""Turns in batches (flows/processor.py): a getUpdates batch stored in one transaction, ready
chats handled together, a turn's replies handed straight to this worker's sender. What a
person would notice if it broke: a message lost or handled twice, answers out of order, one
person's bad turn holding up everyone else, or a reply overtaking an earlier one.
On SQLite and PostgreSQL (the `db` fixture)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from flows.engine import Engine
from flows.events import EventBus
from flows.processor import MAX_ATTEMPTS, Processor
from flows.types import Kind, Message, Reply
from profiles import load_profile
from storage import repo
from storage.db import Database
from storage.models import InboxItem, OutboxItem, Turn
from storage.types import utcnow
from tests.support.chat import MACHINE_SPEED


def msg(chat: str, n: int, kind: Kind = Kind.COMMAND, **fields: object) -> Message:
    if kind == Kind.COMMAND and not fields:
        fields = {"command": "start"}
    return Message("test", chat, kind, language="en", external_id=f"{chat}-{n}", **fields)


def worker(db: Database) -> Processor:
    return Processor(db, Engine(load_profile()), EventBus(), limits=MACHINE_SPEED)


async def replies(db: Database) -> dict[str, list[str]]:
    async with db.transaction() as session:
        items = await repo.pending_outbox(session, "test", limit=10_000,
                                          now=utcnow() + timedelta(days=1))
    out: dict[str, list[str]] = {}
    for item in items:
        out.setdefault(item.chat, []).append(Reply.from_json(item.payload).text)
    return out


async def test_a_polled_batch_is_stored_once_in_order_and_every_chat_answered(db) -> None:
    processor = worker(db)
    async with processor.collect():
        for n in range(3):
            for chat in ("a", "b", "c"):
                await processor.accept(msg(chat, n, Kind.CHOICE, choice="start")
                                       if n else msg(chat, n))
        assert await processor.accept(msg("a", 0)) is True  # joined the batch, not stored yet
    await processor.idle(within=30)
    async with db.transaction() as session:
        rows = (await session.execute(select(InboxItem.chat, InboxItem.external_id)
                                      .order_by(InboxItem.id))).all()
        turns = await session.scalar(select(func.count()).select_from(Turn)
                                     .where(Turn.direction == "in"))
    # The repeat of a-0 in the same batch is stored once; each chat's order is kept.
    assert [e for c, e in rows if c == "a"] == ["a-0", "a-1", "a-2"]
    assert len(rows) == 9 and turns == 9
    # Everyone got the same answers as one person alone would.
    alone = worker(db)
    for n in range(3):
        await alone.accept(msg("solo", n, Kind.CHOICE, choice="start") if n else msg("solo", n))
        await alone.idle(within=30)
    got = await replies(db)
    assert got["a"] == got["b"] == got["c"] == got["solo"]


async def test_a_repeated_update_is_reported_and_ignored(db) -> None:
    processor = worker(db)
    assert await processor.accept(msg("r", 1)) is True
    assert await processor.accept(msg("r", 1)) is False
    duplicates = await processor.accept_many([msg("r", 1), msg("r", 2)])
    assert [m.external_id for m in duplicates] == ["r-1"]
    await processor.idle(within=30)
    async with db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(InboxItem)) == 2


async def test_one_failing_turn_does_not_hold_up_the_others(db, monkeypatch) -> None:
    processor = worker(db)
    real = processor.engine.handle

    async def handle(session, conv, message):  # type: ignore[no-untyped-def]
        if message.chat == "bad":
            raise RuntimeError("a bug in one turn")
        return await real(session, conv, message)

    monkeypatch.setattr(processor.engine, "handle", handle)
    await processor.accept_many([msg("good1", 0), msg("bad", 0), msg("good2", 0)])
    await processor.idle(within=30)
    got = await replies(db)
    assert got["good1"] and got["good1"] == got["good2"]
    async with db.transaction() as session:
        bad = await session.scalar(select(InboxItem).where(InboxItem.chat == "bad"))
    # As with one chat alone: tried MAX_ATTEMPTS times, then the person is told kindly.
    assert bad is not None and bad.attempts == MAX_ATTEMPTS and bad.processed_at is not None
    [notice] = got["bad"]
    assert "something went wrong on our side" in notice and "999" in notice


class Recorder:
    """A sender in the same process, as bot/outbox.py's OutboxSender is."""

    lease = 60.0

    def __init__(self, reach: set[str] | None = None) -> None:
        self.reach = reach
        self.taken: list[tuple[str, list[OutboxItem]]] = []

    def reaches(self, chat: str) -> bool:
        return self.reach is None or chat in self.reach

    def take(self, chat: str, items: list[OutboxItem]) -> None:
        self.taken.append((chat, items))


async def test_replies_go_straight_to_the_sender_leased_to_it(db) -> None:
    processor = worker(db)
    sender = Recorder()
    processor.register_handoff("test", sender)
    await processor.accept(msg("d", 0))
    await processor.idle(within=30)
    [(chat, items)] = sender.taken
    assert chat == "d" and items and all(i.id for i in items)
    async with db.transaction() as session:
        # Leased: no other worker's claim takes them while this one sends.
        assert await repo.claim_outbox(session, "test", lease=5) == []


async def test_a_reply_never_overtakes_one_still_waiting(db) -> None:
    processor = worker(db)
    sender = Recorder()
    processor.register_handoff("test", sender)
    await processor.accept(msg("w", 0))
    await processor.idle(within=30)
    assert len(sender.taken) == 1  # sent by the handoff, not yet marked sent
    await processor.accept(msg("w", 1, Kind.CHOICE, choice="start"))
    await processor.idle(within=30)
    assert len(sender.taken) == 1  # the second turn's replies wait in the outbox instead
    async with db.transaction() as session:
        await repo.mark_sent_many(session, [i.id for i in sender.taken[0][1]])
        claimed = await repo.claim_outbox(session, "test", lease=5)
    assert claimed and {i.chat for i in claimed} == {"w"}


@pytest.mark.parametrize("reach", [set()])
async def test_a_chat_the_sender_cannot_reach_goes_through_the_outbox(db, reach) -> None:
    processor = worker(db)
    sender = Recorder(reach)
    processor.register_handoff("test", sender)
    await processor.accept(msg("elsewhere", 0))
    await processor.idle(within=30)
    assert sender.taken == []
    async with db.transaction() as session:
        assert await repo.claim_outbox(session, "test", lease=5)


async def test_handled_messages_keep_no_words_in_the_inbox(db) -> None:
    # The words live on in the turn log only (encrypted, erased with the conversation); the
    # inbox keeps that a message came, for ordering and the rate limit.
    processor = worker(db)
    async with processor.collect():
        for chat in ("w1", "w2"):
            await processor.accept(msg(chat, 0))
            await processor.accept(msg(chat, 1, Kind.TEXT, text="My son Sam is 7"))
        await processor.accept(msg("w3", 0))
    await processor.idle(within=30)
    await processor.accept(msg("w3", 1, command="delete"))
    await processor.idle(within=30)
    await processor.accept(msg("w3", 2, Kind.CHOICE, choice="yes"))
    await processor.idle(within=30)
    async with db.transaction() as session:
        rows = (await session.execute(select(InboxItem.chat, InboxItem.payload,
                                             InboxItem.processed_at))).all()
    assert len(rows) == 7 and all(processed for _, _, processed in rows)
    assert {str(payload) for chat, payload, _ in rows if chat != "w3"} == {
        str({"processed": True})}
    assert all("Sam" not in str(payload) for _, payload, _ in rows)
    assert {str(payload) for chat, payload, _ in rows if chat == "w3"} == {
        str({"erased": True})}
