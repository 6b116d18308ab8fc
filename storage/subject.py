"""A person's data rights, for the council's Data Protection Officer: export everything held
about one chat (subject access), or erase it, except what is held for safeguarding."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import repo
from storage.models import AuditEvent, ConsentRecord, Contact, Conversation, Turn


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


async def export_person(session: AsyncSession, channel: str, chat: str) -> dict[str, Any]:
    """Everything stored about this chat: its conversation, turns, contacts and consents."""
    conv = await session.scalar(select(Conversation).where(
        Conversation.channel == channel, Conversation.chat == chat))
    contacts = list((await session.scalars(select(Contact).where(
        Contact.channel == channel, Contact.chat == chat).order_by(Contact.id))).all())
    turns: list[Turn] = []
    if conv is not None:
        turns = list((await session.scalars(select(Turn).where(
            Turn.conversation_id == conv.id).order_by(Turn.id))).all())
    out: dict[str, Any] = {
        "channel": channel, "chat": chat,
        "conversation": None if conv is None else {
            "language": conv.language, "started": _iso(conv.created_at),
            "last_activity": _iso(conv.last_activity_at), "answers": conv.state.get("answers", {}),
        },
        "messages": [{"at": _iso(t.created_at), "direction": t.direction, "text": t.text}
                     for t in turns],
        "requests": [],
    }
    for contact in contacts:
        consents = list((await session.scalars(select(ConsentRecord).where(
            ConsentRecord.contact_id == contact.id))).all())
        out["requests"].append({
            "reference": contact.reference, "created": _iso(contact.created_at),
            "status": contact.status, "outcome": contact.outcome, "handover": contact.handover,
            "safeguarding_hold": contact.safeguarding_hold,
            "consents": [{"given_by": c.given_by, "referral_consent": c.referral_consent,
                          "sharing": c.sharing, "central_storage": c.central_storage,
                          "recorded": _iso(c.recorded_at), "withdrawn": _iso(c.withdrawn_at)}
                         for c in consents],
        })
    await repo.audit(session, "dpo", "subject_access_export",
                     detail={"channel": channel, "requests": len(contacts)})
    return out


async def erase_person(session: AsyncSession, channel: str, chat: str,
                       now: datetime) -> dict[str, list[str]]:
    """Erase this chat's data. Requests held for safeguarding are kept (and listed)."""
    from flows.erasure import erase_conversation

    conv = await session.scalar(select(Conversation).where(
        Conversation.channel == channel, Conversation.chat == chat))
    if conv is not None:
        await erase_conversation(session, conv, now)
    contacts = list((await session.scalars(select(Contact).where(
        Contact.channel == channel, Contact.chat == chat))).all())
    erased: list[str] = []
    held: list[str] = []
    for contact in contacts:
        if contact.safeguarding_hold:
            held.append(contact.reference)
            await repo.audit(session, "dpo", "erasure_refused_hold", contact_id=contact.id)
            continue
        await session.execute(update(AuditEvent).where(AuditEvent.contact_id == contact.id)
                              .values(detail={"erased": True}))
        if contact.conversation_id is not None:
            await session.execute(delete(Turn).where(
                Turn.conversation_id == contact.conversation_id, Turn.run == contact.run))
        erased.append(contact.reference)
        await session.delete(contact)
    await repo.audit(session, "dpo", "erasure", detail={"erased": len(erased),
                                                        "held": len(held)})
    return {"erased": erased, "held": held}
