"""Retention for the plumbing tables: what is left once a message was handled or delivered.

A handled inbox row or a sent outbox row holds no words (they live in the turn log), only ids
and times; the inbox row's one remaining job is to recognise an update the platform sends
again, and Telegram gives up redelivering after 24 hours. So both go after the profile's
`delivery_log_retention_days`. An unhandled inbox row is never deleted: that would lose a
message. An undelivered reply older than the draft period is dropped: it waits for a web chat
that was never reopened, and the hub's reply stays on the contact (and `/status`).
Officer sessions that ended are deleted a day later.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import InboxItem, OutboxItem
from storage.officers import OfficerSession

SESSION_GRACE = timedelta(days=1)


@dataclass(frozen=True)
class Purged:
    inbox: int
    outbox_sent: int
    outbox_unsent: int
    sessions: int

    def __bool__(self) -> bool:
        return any((self.inbox, self.outbox_sent, self.outbox_unsent, self.sessions))


async def purge_delivery_log(
    session: AsyncSession, *, now: datetime, delivery_log_days: int, undelivered_days: int
) -> Purged:
    handled_before = now - timedelta(days=delivery_log_days)
    inbox = await session.execute(
        delete(InboxItem).where(
            InboxItem.processed_at.is_not(None), InboxItem.processed_at < handled_before
        )
    )
    sent = await session.execute(
        delete(OutboxItem).where(
            OutboxItem.sent_at.is_not(None), OutboxItem.sent_at < handled_before
        )
    )
    unsent = await session.execute(
        delete(OutboxItem).where(
            OutboxItem.sent_at.is_(None),
            OutboxItem.created_at < now - timedelta(days=undelivered_days),
        )
    )
    ended = now - SESSION_GRACE
    sessions = await session.execute(
        delete(OfficerSession).where(
            or_(
                OfficerSession.expires_at < ended,
                OfficerSession.revoked_at.is_not(None) & (OfficerSession.revoked_at < ended),
            )
        )
    )
    return Purged(
        inbox=_count(inbox),
        outbox_sent=_count(sent),
        outbox_unsent=_count(unsent),
        sessions=_count(sessions),
    )


def _count(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
