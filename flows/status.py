"""A referrer asking "what happened to my request?": their own requests only, for 90 days."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from flows.i18n import N_, Translator
from profiles import Profile
from storage.models import Contact, Conversation


async def own_requests(session: AsyncSession, conv: Conversation, profile: Profile,
                       now: datetime, reference: str = "") -> list[Contact]:
    """Requests sent from this very chat within the visible period: a reference typed by
    someone else never reveals another family's request."""
    since = now - timedelta(days=profile.status_visible_days)
    stmt = select(Contact).where(
        Contact.channel == conv.channel, Contact.chat == conv.chat,
        Contact.complete.is_(True), Contact.submitted_at >= since,
    ).order_by(Contact.submitted_at.desc())
    if reference:
        stmt = stmt.where(Contact.reference == reference.strip().upper())
    return list((await session.scalars(stmt.limit(3))).all())


def describe(profile: Profile, t: Translator, contact: Contact) -> str:
    sent = contact.submitted_at.strftime("%d/%m/%Y") if contact.submitted_at else ""
    if contact.status == "closed":
        label = profile.outcome_label(contact.outcome or "") or ""
        state = t(N_("The hub has finished looking at it. Outcome: {outcome}.")).format(
            outcome=t(label) if label else t(N_("recorded")))
    elif contact.status == "claimed":
        state = t(N_("A social worker at the hub is looking at it now."))
    elif contact.status == "withdrawn" or (contact.handover or {}).get("consent", {}).get(
            "withdrawn_at"):
        state = t(N_("You withdrew your agreement for this request."))
    else:
        state = t(N_("It is waiting to be read by a social worker at the hub."))
    text = t(N_("Request {reference}, sent {date}: {state}")).format(
        reference=contact.reference, date=sent, state=state)
    reply = (contact.handover or {}).get("triage", {}).get("last_reply")
    if reply:
        text += "\n\n" + t(N_("Message from the hub: {message}")).format(message=reply)
    return text
