"""Telling a referrer the outcome as soon as an officer records it (issue 5: professionals
complained they never heard what happened to their referrals).

Only journeys that ask for it (`notify_outcome: true`, the professional journey) are told
automatically: a family is replied to by an officer who has checked it is safe to do so.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from flows.i18n import N_, translator
from flows.render import base_params, fill
from flows.types import Choice, Flag, Reply
from profiles import Profile
from storage.models import Contact
from storage.repo import audit, enqueue_reply


def wants_notice(contact: Contact, profile: Profile) -> bool:
    journey = profile.journeys.get(contact.journey) or {}
    return bool(journey.get("notify_outcome")) and bool(contact.chat)


async def outcome_notice(session: AsyncSession, contact: Contact, profile: Profile,
                         now: datetime) -> bool:
    """Queue the outcome message in the referrer's channel; the caller emits OUTBOX."""
    if not wants_notice(contact, profile) or not contact.outcome:
        return False
    t = translator(contact.language)
    label = profile.outcome_label(contact.outcome) or contact.outcome
    text = fill(t(N_(
        "Update on your referral {reference}: the {hub_name} has recorded the outcome "
        "“{outcome}”.\n\nIf you disagree with this decision, choose “I disagree” to see "
        "how to raise it. If a child is at risk of significant harm, phone the hub now on "
        "{hub_phone}.")),
        {**base_params(profile, t), "reference": contact.reference, "outcome": t(label)})
    reply = Reply(text=text, flags=frozenset({Flag.HUB_REPLY}), language=t.language,
                  rtl=t.rtl, choices=(Choice("cmd:disagree", t(N_("I disagree"))),
                                      Choice("cmd:status", t(N_("Check my request")))))
    assert contact.chat is not None
    item = await enqueue_reply(session, contact.channel, contact.chat, reply,
                               contact_id=contact.id)
    await audit(session, "system", "outcome_notified", contact_id=contact.id,
                detail={"outbox_id": item.id, "outcome": contact.outcome,
                        "at": now.isoformat()})
    return True
