"""Take-next under contention: every contact is claimed exactly once, none is skipped."""

from __future__ import annotations

import asyncio
from collections import Counter

from sqlalchemy import func, insert, select

from storage.db import Database
from storage.models import Contact
from storage.repo import new_reference
from storage.types import utcnow
from triage import queue

WORKERS = 20


async def _fill(db: Database, count: int) -> None:
    now = utcnow()
    rows = [
        {
            "reference": new_reference("SFH") + f"{i:04d}"[-4:],
            "source": "parent_carer", "journey": "self_referral", "channel": "telegram",
            "chat": str(i), "status": "new", "complete": True,
            "urgency": "immediate" if i % 10 == 0 else "standard",
            "urgency_rank": 0 if i % 10 == 0 else 2 + i % 4,
            "language": "en", "interpreter_needed": False, "handover": {},
            "risk_evidence": [], "notes": "", "safeguarding_hold": False,
            "created_at": now, "run": 1,
        }
        for i in range(count)
    ]
    async with db.transaction() as session:
        await session.execute(insert(Contact), rows)


async def _worker(db: Database, name: str) -> list[str]:
    mine: list[str] = []
    while True:
        async with db.transaction() as session:
            contact = await queue.take_next(session, actor=name, now=utcnow(), minutes=60)
            if contact is None:
                return mine
            mine.append(contact.reference)


async def _race(db: Database, count: int) -> None:
    await _fill(db, count)
    results = await asyncio.gather(*(_worker(db, f"officer{i}") for i in range(WORKERS)))
    claimed = [ref for refs in results for ref in refs]
    counts = Counter(claimed)
    assert not [ref for ref, n in counts.items() if n > 1], "a contact was claimed twice"
    assert len(claimed) == count, f"{count - len(claimed)} contact(s) skipped"
    async with db.transaction() as session:
        left = await session.scalar(
            select(func.count()).select_from(Contact).where(Contact.status == "new"))
        holders = await session.scalar(
            select(func.count(func.distinct(Contact.claimed_by))))
    assert left == 0
    assert holders and holders > 1, "the work should be shared between officers"


async def test_20_concurrent_take_next_on_postgresql(pg_db: Database) -> None:
    await _race(pg_db, 200)


async def test_20_concurrent_take_next_on_sqlite(sqlite_db: Database) -> None:
    await _race(sqlite_db, 200)
