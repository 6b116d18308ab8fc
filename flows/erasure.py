"""A person's "delete my data": erase the conversation, withdraw consent on what was sent.

A contact already sent stays in the queue: an officer must still decide what safeguarding
needs (close it, or keep what a child's safety requires). The withdrawal is recorded on the
consent record, in the handover's consent section, and in the audit log.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import repo
from storage.models import ConsentRecord, Contact, Conversation, InboxItem, OutboxItem, Turn


async def erase_conversation(session: AsyncSession, conv: Conversation, now: datetime) -> list[int]:
    """Delete the chat, its turns and stored words; returns the ids of contacts withdrawn."""
    contacts = list((await session.scalars(
        select(Contact).where(Contact.conversation_id == conv.id))).all())
    for contact in contacts:
        handover = dict(contact.handover or {})
        handover["consent"] = {**(handover.get("consent") or {}),
                               "withdrawn_at": now.isoformat()}
        contact.handover = handover
        await session.execute(update(ConsentRecord).where(
            ConsentRecord.contact_id == contact.id, ConsentRecord.withdrawn_at.is_(None)
        ).values(withdrawn_at=now))
        await repo.audit(session, "person", "consent_withdrawn", contact_id=contact.id)
    await session.execute(delete(Turn).where(Turn.conversation_id == conv.id))
    await session.execute(update(InboxItem).where(
        InboxItem.channel == conv.channel, InboxItem.chat == conv.chat
    ).values(payload={"erased": True}))
    await session.execute(delete(OutboxItem).where(
        OutboxItem.channel == conv.channel, OutboxItem.chat == conv.chat,
        OutboxItem.sent_at.is_not(None)))
    await session.delete(conv)
    return [c.id for c in contacts]
