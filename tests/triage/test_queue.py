"""The queue service on SQLite and PostgreSQL: order, take-next, claims, release, reassign."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from storage.db import Database
from storage.models import AuditEvent, Contact
from storage.types import utcnow
from tests.triage.conftest import add_contact
from triage import queue
from triage.outcome import Decision, OutcomeError, record


async def _take(db: Database, actor: str, *, minutes: int = 60, now=None) -> Contact | None:
    async with db.transaction() as session:
        return await queue.take_next(session, actor=actor, now=now or utcnow(), minutes=minutes)


async def test_take_next_follows_urgency_then_age(db: Database) -> None:
    green = await add_contact(db, rag="green", age_minutes=500)
    unrated = await add_contact(db, age_minutes=600)
    amber_old = await add_contact(db, rag="amber", age_minutes=300)
    amber_new = await add_contact(db, rag="amber", age_minutes=10)
    red = await add_contact(db, rag="red", age_minutes=5)
    urgent = await add_contact(db, urgency="urgent", rag="red", age_minutes=3)
    immediate = await add_contact(db, urgency="immediate", rag="red", age_minutes=1)
    taken = [await _take(db, "alice") for _ in range(7)]
    assert [c.reference for c in taken if c] == [
        immediate.reference, urgent.reference, red.reference, amber_old.reference,
        amber_new.reference, green.reference, unrated.reference,
    ]
    assert await _take(db, "alice") is None


async def test_red_that_arrived_last_is_taken_first(db: Database) -> None:
    for minutes in (90, 60, 30):
        await add_contact(db, rag="amber", age_minutes=minutes)
    red = await add_contact(db, urgency="immediate", rag="red", age_minutes=0)
    taken = await _take(db, "alice")
    assert taken is not None and taken.reference == red.reference
    assert taken.status == "claimed" and taken.claimed_by == "alice"


async def test_closed_and_withdrawn_are_never_taken(db: Database) -> None:
    await add_contact(db, status="closed")
    await add_contact(db, status="withdrawn")
    assert await _take(db, "alice") is None


async def test_expired_claim_is_taken_again_and_audited(db: Database, profile) -> None:
    contact = await add_contact(db)
    first = await _take(db, "alice", minutes=1)
    assert first is not None
    assert await _take(db, "bob") is None  # still held
    later = utcnow() + timedelta(minutes=2)
    again = await _take(db, "bob", now=later)
    assert again is not None and again.reference == contact.reference
    assert again.claimed_by == "bob"
    async with db.transaction() as session:
        events = (await session.scalars(
            select(AuditEvent).where(AuditEvent.contact_id == contact.id)
            .order_by(AuditEvent.id))).all()
    assert [e.action for e in events] == ["take_next", "take_next"]
    assert events[1].detail == {"expired_claim_of": "alice"}


async def test_claim_release_reassign(db: Database, profile) -> None:
    contact = await add_contact(db)
    async with db.transaction() as session:
        await queue.claim(session, contact.reference, actor="alice", now=utcnow(),
                          profile=profile)
    with pytest.raises(queue.QueueError) as held:
        async with db.transaction() as session:
            await queue.claim(session, contact.reference, actor="bob", now=utcnow(),
                              profile=profile)
    assert held.value.status == 409
    assert held.value.message.startswith(f"{contact.reference} is held by alice until ")
    with pytest.raises(queue.QueueError):
        async with db.transaction() as session:
            await queue.release(session, contact.reference, actor="bob", manager=False,
                                now=utcnow(), profile=profile)
    async with db.transaction() as session:
        released = await queue.release(session, contact.reference, actor="alice",
                                       manager=False, now=utcnow(), profile=profile)
        assert released.status == "new" and released.claimed_by is None
    async with db.transaction() as session:
        moved = await queue.reassign(session, contact.reference, to="carol", actor="manager",
                                     now=utcnow(), profile=profile)
        assert moved.claimed_by == "carol" and moved.status == "claimed"
    with pytest.raises(queue.QueueError) as missing:
        async with db.transaction() as session:
            await queue.claim(session, "SFH-NOPE00", actor="bob", now=utcnow(),
                              profile=profile)
    assert missing.value.status == 404


async def test_record_decision_updates_rank_and_triage_block(db: Database, profile) -> None:
    contact = await add_contact(db)
    async with db.transaction() as session:
        row = await queue.locked(session, contact.reference)
        with pytest.raises(OutcomeError, match="Before closing, choose a category"):
            await record(session, row, Decision(close=True), actor="alice", profile=profile,
                         now=utcnow())
    async with db.transaction() as session:
        row = await queue.locked(session, contact.reference)
        await record(session, row, Decision(category="domestic_violence", rag="amber",
                                            outcome="send_to_mash", notes="n", close=True),
                     actor="alice", profile=profile, now=utcnow())
    async with db.transaction() as session:
        row = await queue.find(session, contact.reference)
        assert row.urgency_rank == 3
        assert row.status == "closed" and row.closed_at is not None
        assert row.handover["triage"]["outcome"] == "send_to_mash"
        assert row.handover["triage"]["outcome_label"] == "Send to MASH"
        assert row.handover["triage"]["status"] == "closed"
        assert row.handover["sections"] == []  # the engine's keys are kept


async def test_unknown_category_is_refused(db: Database, profile) -> None:
    contact = await add_contact(db)
    async with db.transaction() as session:
        row = await queue.locked(session, contact.reference)
        with pytest.raises(OutcomeError, match="Choose a category from the list"):
            await record(session, row, Decision(category="made_up"), actor="a",
                         profile=profile, now=utcnow())
