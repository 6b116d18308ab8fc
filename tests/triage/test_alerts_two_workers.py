"""Duty alerts with several workers on one database: each red contact alerts the duty chat
once, however many sweepers run, and a repeated signal does not alert twice."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from bot.settings import Settings
from flows.events import EventBus
from storage.db import Database
from storage.models import AuditEvent, OutboxItem
from tests.triage.conftest import add_contact
from triage import alerts


async def test_two_workers_sweeping_at_once_alert_a_missed_red_contact_once(
    db: Database, profile: Any
) -> None:
    lost = await add_contact(db, urgency="immediate", rag="red", age_minutes=1)
    other = Database(db.url)  # the second worker has its own connections
    workers = [
        alerts.Alerts(database, profile, EventBus(), Settings(alert_chat_id="-1"))
        for database in (db, other, db, other)
    ]
    await asyncio.gather(*(w.sweep_once() for w in workers))
    await other.dispose()
    async with db.transaction() as session:
        items = list((await session.scalars(select(OutboxItem))).all())
        audits = list(
            (await session.scalars(select(AuditEvent).where(AuditEvent.action == "alert"))).all()
        )
    assert len(items) == 1 and lost.reference in items[0].payload["text"]
    assert len(audits) == 1


async def test_the_same_signal_twice_alerts_once_but_a_rise_to_immediate_alerts_again(
    db: Database, profile: Any
) -> None:
    contact = await add_contact(db, urgency="urgent", rag="red")
    service = alerts.Alerts(db, profile, EventBus(), Settings(alert_chat_id="-1"))
    event = {"contact_id": contact.id, "reference": contact.reference, "urgency": "urgent"}
    await service.on_red(event)
    await service.on_red(event)
    await service.on_red({**event, "urgency": "immediate"})
    async with db.transaction() as session:
        texts = [
            i.payload["text"]
            for i in (await session.scalars(select(OutboxItem).order_by(OutboxItem.id))).all()
        ]
    assert len(texts) == 2
    assert "urgent" in texts[0] and "immediate" in texts[1]
