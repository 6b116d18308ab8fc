"""Duty alerts: a red contact reaches the duty chat's outbox (and every console) within 1 s,
with no personal details beyond reference, urgency, locality and language."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from sqlalchemy import select

from bot.settings import Settings
from flows.events import CONTACT_RED, OUTBOX, EventBus
from storage.db import Database
from storage.models import AuditEvent, OutboxItem
from tests.triage.conftest import add_contact
from triage import alerts


async def _outbox(db: Database) -> list[OutboxItem]:
    async with db.transaction() as session:
        return list((await session.scalars(select(OutboxItem).order_by(OutboxItem.id))).all())


async def test_red_contact_alert_within_one_second(db: Database, profile: Any) -> None:
    bus = EventBus()
    woken = asyncio.Event()

    async def on_outbox(event: dict[str, Any]) -> None:
        if event == {"channel": "telegram"}:
            woken.set()

    bus.subscribe(OUTBOX, on_outbox)
    service = alerts.start(db, profile, bus, Settings(alert_chat_id="-100123"),
                           sweep_seconds=0)
    contact = await add_contact(
        db, urgency="immediate", rag="red", language="pl", locality="south_west",
        handover={"children": [{"name": "Secret Child"}], "address": {"postcode": "UB8 1AA"}})
    started = time.perf_counter()
    bus.emit(CONTACT_RED, {"contact_id": contact.id, "reference": contact.reference,
                           "urgency": "immediate", "locality": "south_west",
                           "language": "pl"})
    await asyncio.wait_for(woken.wait(), 1.0)
    assert time.perf_counter() - started < 1.0
    items = await _outbox(db)
    assert len(items) == 1
    item = items[0]
    assert (item.channel, item.chat, item.contact_id) == ("telegram", "-100123", None)
    text = item.payload["text"]
    assert contact.reference in text
    assert "immediate" in text and "Uxbridge" in text and "Polish" in text
    assert "Secret Child" not in text and "UB8" not in text
    await service.stop()


async def test_no_alert_chat_still_audits(db: Database, profile: Any) -> None:
    bus = EventBus()
    service = alerts.Alerts(db, profile, bus, Settings(alert_chat_id=""))
    contact = await add_contact(db, urgency="urgent", rag="red")
    await service.on_red({"contact_id": contact.id, "reference": contact.reference,
                          "urgency": "urgent"})
    assert await _outbox(db) == []
    async with db.transaction() as session:
        event = await session.scalar(select(AuditEvent).where(AuditEvent.action == "alert"))
    assert event is not None and event.detail["telegram"] == "ALERT_CHAT_ID is not set"


async def test_sweeper_resends_a_lost_alert_once(db: Database, profile: Any) -> None:
    bus = EventBus()
    service = alerts.Alerts(db, profile, bus, Settings(alert_chat_id="-1"))
    lost = await add_contact(db, urgency="immediate", rag="red", age_minutes=1)
    await add_contact(db, urgency="standard", age_minutes=1)
    assert await service.sweep_once() == 1
    assert await service.sweep_once() == 0
    items = await _outbox(db)
    assert len(items) == 1 and lost.reference in items[0].payload["text"]
