"""Replies from an officer to the referrer, through the channel they used.

The reply is written to the outbox in the same transaction as its audit event and its copy in
the contact's `triage.replies`, so it is sent exactly once and the referrer can see it later
when they ask for the status of their reference.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from flows.i18n import translator
from flows.types import Flag, Reply
from profiles import Profile
from storage.models import Contact, OutboxItem
from storage.repo import audit, enqueue_reply
from triage import reply_templates
from triage.outcome import store_triage_block, triage_block
from triage.text import bad_text

MAX_TEXT = 2000


class ReplyError(ValueError):
    """The reply cannot be sent as given; the message says exactly why."""


@dataclass(frozen=True)
class Composed:
    reply: Reply
    template: str | None
    body: str  # the template and the officer's words, without greeting and footer


def compose(
    contact: Contact, profile: Profile, *, template: str | None, text: str
) -> Composed:
    """The message in the referrer's language: header, template, the officer's words, footer."""
    text = text.strip()
    if template and template not in reply_templates.BY_OUTCOME:
        raise ReplyError("Choose a reply template from the list, or none.")
    if not template and not text:
        raise ReplyError("Write a reply or choose a template before sending.")
    if bad_text(text):
        raise ReplyError("The reply contains characters that are not allowed.")
    if len(text) > MAX_TEXT:
        raise ReplyError(f"A reply can be at most {MAX_TEXT} characters.")
    t = translator(contact.language)
    params = {"hub": profile.hub_name, "phone": profile.hub_phone, "reference": contact.reference}
    body = []
    if template:
        body.append(t(reply_templates.BY_OUTCOME[template], **params))
    if text:
        body.append(text)
    parts = [t(reply_templates.HEADER, **params), *body, t(reply_templates.FOOTER, **params)]
    reply = Reply(
        text="\n\n".join(parts),
        flags=frozenset({Flag.HUB_REPLY}),
        language=t.language,
        rtl=t.rtl,
    )
    return Composed(reply, template or None, "\n\n".join(body))


def preview(contact: Contact, profile: Profile, template: str) -> str:
    """A template in the referrer's language, for the console to show before sending."""
    t = translator(contact.language)
    params = {"hub": profile.hub_name, "phone": profile.hub_phone, "reference": contact.reference}
    return t(reply_templates.BY_OUTCOME[template], **params)


async def send(
    session: AsyncSession,
    contact: Contact,
    *,
    template: str | None,
    text: str,
    actor: str,
    profile: Profile,
    now: datetime,
) -> OutboxItem:
    """Queue the reply for the contact's channel; the caller emits OUTBOX after commit."""
    if not contact.chat:
        raise ReplyError(
            f"{contact.reference} has no {contact.channel} chat to reply to. "
            "Phone the referrer instead."
        )
    composed = compose(contact, profile, template=template, text=text)
    item = await enqueue_reply(
        session, contact.channel, contact.chat, composed.reply, contact_id=contact.id
    )
    block = triage_block(contact)
    replies = list(block.get("replies") or [])
    replies.append(
        {
            "at": now.isoformat(),
            "text": composed.reply.text,
            "language": composed.reply.language,
            "template": composed.template,
            "channel": contact.channel,
        }
    )
    block["replies"] = replies
    # What the engine shows when the referrer asks for the status of their reference.
    block["last_reply"] = composed.body
    store_triage_block(contact, block)
    await audit(
        session, actor, "reply", contact_id=contact.id,
        detail={
            "template": composed.template,
            "language": composed.reply.language,
            "channel": contact.channel,
            "outbox_id": item.id,
            "text": composed.reply.text,
        },
    )
    return item
