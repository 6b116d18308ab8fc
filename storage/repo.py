"""Repository functions: the only place SQL about contacts, outbox and audit is written.

Every function takes the caller's session so a turn, its contact and its outbound reply commit
together or not at all.
"""

from __future__ import annotations

import secrets
import zlib
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, delete, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from flows.types import Message, Reply
from storage.batch_sql import among, on_postgresql, unnest_rows
from storage.models import (
    AuditEvent,
    ConsentRecord,
    Contact,
    Conversation,
    InboxItem,
    OutboxItem,
    Turn,
)
from storage.types import utcnow

# Queue order: the detector's urgency first, then the officer's RAG rating.
URGENCY_RANK = {"immediate": 0, "urgent": 1}
RAG_RANK = {"red": 2, "amber": 3, "green": 4}
UNRATED_RANK = 5

# No 0/O/1/I/L: a reference is read out over the phone.
_REF_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def queue_rank(urgency: str, rag: str | None) -> int:
    if urgency in URGENCY_RANK:
        return URGENCY_RANK[urgency]
    if rag in RAG_RANK:
        return RAG_RANK[rag]
    return UNRATED_RANK


def new_reference(prefix: str) -> str:
    body = "".join(secrets.choice(_REF_ALPHABET) for _ in range(6))
    return f"{prefix}-{body[:3]}{body[3:]}"


async def create_contact(session: AsyncSession, *, prefix: str, **fields: Any) -> Contact:
    """Insert a contact with a fresh unique reference (retrying the rare collision)."""
    for _ in range(5):
        contact = Contact(reference=new_reference(prefix), **fields)
        contact.urgency_rank = queue_rank(contact.urgency or "standard", contact.rag)
        try:
            async with session.begin_nested():
                session.add(contact)
                await session.flush()
        except IntegrityError:
            continue
        return contact
    raise RuntimeError("could not allocate a unique contact reference")


async def set_urgency(session: AsyncSession, contact: Contact, urgency: str) -> bool:
    """Raise (never lower) a contact's urgency; returns True when it went up."""
    order = ["standard", "urgent", "immediate"]
    if order.index(urgency) <= order.index(contact.urgency):
        return False
    contact.urgency = urgency
    if urgency in ("urgent", "immediate"):
        contact.rag = "red"
    contact.urgency_rank = queue_rank(contact.urgency, contact.rag)
    return True


async def add_consent(session: AsyncSession, contact: Contact, **fields: Any) -> ConsentRecord:
    record = ConsentRecord(contact_id=contact.id, **fields)
    session.add(record)
    await session.flush()
    return record


async def enqueue_reply(
    session: AsyncSession, channel: str, chat: str, reply: Reply, *, contact_id: int | None = None
) -> OutboxItem:
    item = OutboxItem(channel=channel, chat=chat, payload=reply.to_json(), contact_id=contact_id)
    session.add(item)
    await session.flush()
    return item


async def enqueue_replies(
    session: AsyncSession, replies: list[tuple[str, str, Reply, int | None, float | None]],
) -> list[OutboxItem]:
    """`enqueue_reply` for many (channel, chat, reply, contact_id, lease) at once, in order.
    On PostgreSQL one `INSERT ... SELECT FROM unnest ... RETURNING id` (one statement text for
    any count); the items come back with their ids, outside the session (nothing changes
    them in this transaction). SQLite leaves them to the commit's flush."""
    now = utcnow()
    items = [
        OutboxItem(channel=channel, chat=chat, payload=reply.to_json(), contact_id=contact_id,
                   created_at=now, attempts=0, last_error="",
                   next_attempt_at=now + timedelta(seconds=lease or 0))
        for channel, chat, reply, contact_id, lease in replies
    ]
    if not items:
        return items
    if not on_postgresql(session):
        session.add_all(items)
        return items
    columns = (OutboxItem.channel, OutboxItem.chat, OutboxItem.payload, OutboxItem.contact_id,
               OutboxItem.created_at, OutboxItem.next_attempt_at, OutboxItem.attempts,
               OutboxItem.last_error)
    rows = [tuple(getattr(item, c.key) for c in columns) for item in items]
    ids = (await session.scalars(
        insert(OutboxItem).from_select([c.key for c in columns], unnest_rows(columns, rows))
        .returning(OutboxItem.id)
    )).all()
    # Serial ids follow the SELECT's order (unnest_rows orders by position) in one statement.
    for item, item_id in zip(items, sorted(ids), strict=True):
        item.id = item_id
    return items


async def store_inbound(session: AsyncSession, messages: list[Message]) -> set[tuple[str, str]]:
    """Insert inbound messages in order, one statement; an update the platform sent again
    (same channel and external id) is skipped. Returns the (channel, external_id) stored."""
    if not messages:
        return set()
    now = utcnow()
    columns = (InboxItem.channel, InboxItem.chat, InboxItem.external_id, InboxItem.payload,
               InboxItem.received_at, InboxItem.attempts)
    values = [(m.channel, m.chat, m.external_id, m.to_json(), now, 0) for m in messages]
    returning = (InboxItem.channel, InboxItem.external_id)
    if on_postgresql(session):
        stmt = (pg_insert(InboxItem)
                .from_select([c.key for c in columns], unnest_rows(columns, values))
                .on_conflict_do_nothing(index_elements=["channel", "external_id"])
                .returning(*returning))
        rows = await session.execute(stmt)
    else:
        rows = await session.execute(
            sqlite_insert(InboxItem)
            .on_conflict_do_nothing(index_elements=["channel", "external_id"])
            .returning(*returning),
            [dict(zip((c.key for c in columns), row, strict=True)) for row in values])
    return {(channel, external) for channel, external in rows.all() if external is not None}


async def audit(
    session: AsyncSession,
    actor: str,
    action: str,
    *,
    contact_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    session.add(AuditEvent(actor=actor, action=action, contact_id=contact_id, detail=detail or {}))


async def pending_outbox(
    session: AsyncSession, channel: str, *, limit: int = 50, now: datetime | None = None
) -> list[OutboxItem]:
    now = now or utcnow()
    stmt = (
        select(OutboxItem)
        .where(
            OutboxItem.sent_at.is_(None),
            OutboxItem.channel == channel,
            OutboxItem.next_attempt_at <= now,
        )
        .order_by(OutboxItem.id)
        .limit(limit)
    )
    return list((await session.scalars(stmt)).all())


# Advisory lock namespaces (the two-int form; the processor's per-chat locks use the one-bigint
# form, a separate key space).
LOCK_OUTBOX_CLAIM = 1
LOCK_ALERT = 2
LOCK_PURGE = 3


async def xact_lock(session: AsyncSession, namespace: int, key: int) -> None:
    """Serialise a short transaction across workers on PostgreSQL (SQLite's BEGIN IMMEDIATE
    already serialises every writer)."""
    if on_postgresql(session):
        await session.execute(text("SELECT pg_advisory_xact_lock(:ns, :key)"),
                              {"ns": namespace, "key": key})


async def claim_outbox(
    session: AsyncSession, channel: str, *, lease: float, chats: int = 100,
    only: Collection[str] | None = None, now: datetime | None = None,
) -> list[OutboxItem]:
    """Claim every unsent reply of up to `chats` chats for one worker, oldest first.

    A chat is claimable only when its oldest unsent reply is due: one that waits for a retry
    or is leased by another worker holds back the whole chat, so replies never overtake each
    other. The claim is a lease (`next_attempt_at` moved `lease` seconds on): a worker that
    dies mid-send loses it, and another worker re-sends at most what was in flight.
    `only`: the chats this worker can reach (a web chat window is open on one worker only).
    """
    if only is not None and not only:
        return []
    now = now or utcnow()
    await xact_lock(session, LOCK_OUTBOX_CLAIM, zlib.crc32(channel.encode()) - 2**31)
    unsent: list[ColumnElement[bool]] = [OutboxItem.sent_at.is_(None),
                                         OutboxItem.channel == channel]
    if only is not None:
        unsent.append(among(session, OutboxItem.chat, only))
    heads = (
        select(OutboxItem.chat, func.min(OutboxItem.id).label("head_id"))
        .where(*unsent).group_by(OutboxItem.chat).subquery()
    )
    due_chats = list((await session.scalars(
        select(heads.c.chat)
        .join(OutboxItem, OutboxItem.id == heads.c.head_id)
        .where(OutboxItem.next_attempt_at <= now)
        .order_by(heads.c.head_id).limit(chats)
    )).all())
    if not due_chats:
        return []
    items = list((await session.scalars(
        select(OutboxItem).where(*unsent, among(session, OutboxItem.chat, due_chats))
        .order_by(OutboxItem.id)
    )).all())
    await session.execute(
        update(OutboxItem).where(among(session, OutboxItem.id, [i.id for i in items]))
        .values(next_attempt_at=now + timedelta(seconds=lease))
    )
    return items


async def release_outbox(session: AsyncSession, item_ids: list[int]) -> None:
    """Hand claimed but unsent replies back (they stay behind their chat's oldest)."""
    if item_ids:
        await session.execute(
            update(OutboxItem)
            .where(among(session, OutboxItem.id, item_ids), OutboxItem.sent_at.is_(None))
            .values(next_attempt_at=utcnow())
        )


async def mark_sent(session: AsyncSession, item_id: int) -> None:
    """Sent: the words are dropped here (the turn log keeps them), so the outbox holds no
    personal data once delivered."""
    await mark_sent_many(session, [item_id])


async def mark_sent_many(session: AsyncSession, item_ids: Collection[int]) -> None:
    """`mark_sent` for several replies in one statement (acknowledgements are grouped)."""
    if item_ids:
        await session.execute(
            update(OutboxItem).where(among(session, OutboxItem.id, item_ids))
            .values(sent_at=utcnow(), payload={"sent": True})
            .execution_options(synchronize_session=False)
        )


async def mark_processed(
    session: AsyncSession, item_ids: Collection[int], *, erased: bool = False
) -> None:
    """Inbox messages handled, in one statement for a whole batch. Their words live on in the
    turn log only, so the stored payload is replaced, unless the turn was an erasure, which
    has already blanked it (flows/erasure.py)."""
    if not item_ids:
        return
    values: dict[str, Any] = {"processed_at": utcnow()}
    if not erased:
        values["payload"] = {"processed": True}
    await session.execute(
        update(InboxItem).where(among(session, InboxItem.id, item_ids)).values(**values)
        .execution_options(synchronize_session=False)
    )


async def chats_with_unsent(
    session: AsyncSession, channel: str, chats: Collection[str]
) -> set[str]:
    """Which of these chats still have a reply waiting (queued, leased or due for a retry):
    a new reply for them must queue behind it instead of going straight out."""
    if not chats:
        return set()
    rows = await session.scalars(
        select(OutboxItem.chat).where(OutboxItem.sent_at.is_(None), OutboxItem.channel == channel,
                                      among(session, OutboxItem.chat, chats)).distinct()
    )
    return set(rows.all())


async def mark_failed(
    session: AsyncSession, item_id: int, error: str, delay: float,
    *, remainder: Reply | None = None,
) -> None:
    """Try again after `delay` seconds; `remainder` is what is still to send when part of a
    long reply already went out (a retry must not repeat it)."""
    values: dict[str, Any] = {
        "attempts": OutboxItem.attempts + 1,
        "last_error": error[:200],
        "next_attempt_at": utcnow() + timedelta(seconds=delay),
    }
    if remainder is not None:
        values["payload"] = remainder.to_json()
    await session.execute(update(OutboxItem).where(OutboxItem.id == item_id).values(**values)
                          .execution_options(synchronize_session=False))


async def contact_by_reference(session: AsyncSession, reference: str) -> Contact | None:
    return await session.scalar(select(Contact).where(Contact.reference == reference.upper()))


async def transcript(session: AsyncSession, contact: Contact) -> list[Turn]:
    if contact.conversation_id is None:
        return []
    stmt = (
        select(Turn)
        .where(Turn.conversation_id == contact.conversation_id, Turn.run == contact.run)
        .order_by(Turn.id)
    )
    return list((await session.scalars(stmt)).all())


async def purge_expired_drafts(session: AsyncSession, older_than: datetime) -> int:
    """Delete draft answers and turns idle since `older_than` (portal rule: 30 days).

    Turns of runs that became a submitted contact are kept with the contact; a conversation
    with no submitted contact is deleted whole.
    """
    idle = list((await session.scalars(
        select(Conversation).where(Conversation.last_activity_at < older_than)
    )).all())
    removed = 0
    for conv in idle:
        if conv.state == {} and conv.contact_id is None and not await session.scalar(
            select(Turn.id).where(Turn.conversation_id == conv.id).limit(1)
        ):
            continue  # purged already: only the record that a request was sent remains
        kept_runs = set((await session.scalars(
            select(Contact.run).where(Contact.conversation_id == conv.id,
                                      Contact.complete.is_(True))
        )).all())
        draft_turns = await session.scalar(select(Turn.id).where(
            Turn.conversation_id == conv.id, Turn.run.not_in(kept_runs)).limit(1))
        if kept_runs and conv.state == {} and draft_turns is None:
            continue  # nothing left to purge
        await session.execute(
            delete(Turn).where(Turn.conversation_id == conv.id, Turn.run.not_in(kept_runs))
            if kept_runs else delete(Turn).where(Turn.conversation_id == conv.id)
        )
        if kept_runs:
            conv.state = {}
            conv.run += 1
            conv.contact_id = None
        else:
            await session.delete(conv)
        removed += 1
    return removed


async def purge_closed_contacts(session: AsyncSession, closed_before: datetime) -> int:
    """Erase contacts closed before the retention cutoff, unless held for safeguarding.

    The contact, its consent records and the transcript of its run go; audit rows stay (who
    did what, when) with their details blanked, since a reply's text is personal data.
    """
    expired = list((await session.scalars(
        select(Contact).where(Contact.status == "closed", Contact.closed_at < closed_before,
                              Contact.safeguarding_hold.is_(False))
    )).all())
    for contact in expired:
        if contact.conversation_id is not None:
            await session.execute(delete(Turn).where(
                Turn.conversation_id == contact.conversation_id, Turn.run == contact.run))
        await session.execute(update(AuditEvent).where(AuditEvent.contact_id == contact.id)
                              .values(detail={"erased": True}))
        await session.execute(delete(OutboxItem).where(OutboxItem.contact_id == contact.id))
        await session.delete(contact)
    return len(expired)
