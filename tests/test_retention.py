"""Retention of the plumbing tables (storage/retention.py), on SQLite and PostgreSQL.

What matters to people: an unhandled message is never deleted, whatever its age; handled
rows, delivered replies and ended sign-ins do not pile up for ever.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from storage.db import Database
from storage.models import InboxItem, OutboxItem
from storage.officers import Officer, OfficerSession
from storage.retention import purge_delivery_log
from storage.types import utcnow


async def _seed(db: Database) -> None:
    now = utcnow()
    old, recent = now - timedelta(days=8), now - timedelta(days=2)
    ancient = now - timedelta(days=40)
    async with db.transaction() as session:
        session.add_all([
            InboxItem(channel="telegram", chat="1", external_id="old-handled",
                      payload={"processed": True}, received_at=old, processed_at=old),
            InboxItem(channel="telegram", chat="1", external_id="recent-handled",
                      payload={"processed": True}, received_at=recent, processed_at=recent),
            InboxItem(channel="telegram", chat="1", external_id="ancient-waiting",
                      payload={"kind": "text", "text": "still to answer"}, received_at=ancient),
            OutboxItem(channel="telegram", chat="1", payload={"sent": True}, created_at=old,
                       sent_at=old),
            OutboxItem(channel="telegram", chat="1", payload={"sent": True}, created_at=recent,
                       sent_at=recent),
            OutboxItem(channel="web", chat="w1", payload={"text": "the hub's reply"},
                       created_at=ancient),
            OutboxItem(channel="web", chat="w2", payload={"text": "waiting for the window"},
                       created_at=recent),
        ])
        officer = Officer(username="ret", password_hash="x", totp_secret="S" * 32)
        session.add(officer)
        await session.flush()
        session.add_all([
            OfficerSession(token_hash="a" * 64, officer_id=officer.id, csrf_token="c",
                           expires_at=now - timedelta(days=2)),
            OfficerSession(token_hash="b" * 64, officer_id=officer.id, csrf_token="c",
                           expires_at=now + timedelta(hours=8),
                           revoked_at=now - timedelta(days=3)),
            OfficerSession(token_hash="c" * 64, officer_id=officer.id, csrf_token="c",
                           expires_at=now + timedelta(hours=8)),
        ])


async def test_handled_rows_go_after_the_period_and_waiting_messages_never(db: Database) -> None:
    await _seed(db)
    async with db.transaction() as session:
        purged = await purge_delivery_log(session, now=utcnow(), delivery_log_days=7,
                                          undelivered_days=30)
    assert (purged.inbox, purged.outbox_sent, purged.outbox_unsent, purged.sessions) == (1, 1, 1, 2)
    async with db.transaction() as session:
        inbox = set((await session.scalars(select(InboxItem.external_id))).all())
        outbox = [(o.chat, o.sent_at is None) for o in await session.scalars(
            select(OutboxItem).order_by(OutboxItem.id))]
        sessions = list((await session.scalars(select(OfficerSession.token_hash))).all())
    assert inbox == {"recent-handled", "ancient-waiting"}
    assert outbox == [("1", False), ("w2", True)]
    assert sessions == ["c" * 64]
    async with db.transaction() as session:  # a second round finds nothing
        again = await purge_delivery_log(session, now=utcnow(), delivery_log_days=7,
                                         undelivered_days=30)
    assert not again
