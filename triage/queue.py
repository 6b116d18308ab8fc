"""The triage queue: order, atomic take-next, claims that expire, release and reassign.

Order is `urgency_rank` (immediate, urgent, then RAG red/amber/green, then unrated) and then
age, oldest first. Take-next locks the row it returns: on PostgreSQL with
`FOR UPDATE SKIP LOCKED`, so concurrent officers each get a different contact without waiting
on each other; on SQLite every transaction starts with BEGIN IMMEDIATE, so the select and the
update below are already serialised (SQLAlchemy leaves FOR UPDATE out there).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer
from sqlalchemy.sql.elements import ColumnElement

from profiles import Profile
from storage.models import Contact
from storage.repo import audit
from triage.clock import fmt_time
from triage.text import bad_text

DEFAULT_CLAIM_MINUTES = 60
OPEN_STATUSES = ("new", "claimed")
QUEUE_ORDER = (Contact.urgency_rank, Contact.created_at, Contact.id)


class QueueError(Exception):
    """A refused queue action: `status` is the HTTP status, the message is for the officer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def claim_minutes(profile: Profile) -> int:
    return int(profile.raw.get("claim_minutes", DEFAULT_CLAIM_MINUTES))


def claimable(now: datetime) -> ColumnElement[bool]:
    """New contacts, and claimed ones whose claim has run out."""
    return or_(
        Contact.status == "new",
        and_(Contact.status == "claimed", Contact.claim_expires_at < now),
    )


def claim_expired(contact: Contact, now: datetime) -> bool:
    return (
        contact.status == "claimed"
        and contact.claim_expires_at is not None
        and contact.claim_expires_at < now
    )


def _hold(contact: Contact, actor: str, now: datetime, minutes: int) -> None:
    contact.status = "claimed"
    contact.claimed_by = actor
    contact.claimed_at = now
    contact.claim_expires_at = now + timedelta(minutes=minutes)


async def _first(
    session: AsyncSession, *conditions: ColumnElement[bool]
) -> tuple[int, int, datetime] | None:
    """(id, rank, created_at) of the first matching row, locked, skipping locked rows.

    Only narrow columns are read so PostgreSQL walks ix_contacts_queue instead of sorting
    whole rows (handover JSON included) — this keeps take-next flat as the queue grows.
    """
    stmt = (
        select(Contact.id, Contact.urgency_rank, Contact.created_at)
        .where(*conditions)
        .order_by(*QUEUE_ORDER)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    row = (await session.execute(stmt)).first()
    return (row[0], row[1], row[2]) if row is not None else None


async def take_next(
    session: AsyncSession, *, actor: str, now: datetime, minutes: int
) -> Contact | None:
    """Claim the most urgent, oldest available contact, or None when the queue is empty.

    Available means new, or claimed with the claim run out. The two are looked up with two
    index-friendly queries (an OR would make PostgreSQL sort the whole table) and the better
    one is taken; expired claims are rare, so usually only one row is locked.
    """
    fresh = await _first(session, Contact.status == "new")
    stale = await _first(session, Contact.status == "claimed", Contact.claim_expires_at < now)
    candidates = [row for row in (fresh, stale) if row is not None]
    if not candidates:
        return None
    best = min(candidates, key=lambda row: (row[1], row[2], row[0]))
    contact = await session.scalar(
        select(Contact).where(Contact.id == best[0]).execution_options(populate_existing=True)
    )
    if contact is None:  # deleted between the two statements (erasure); nothing to take
        return None
    previous = contact.claimed_by if contact.status == "claimed" else None
    _hold(contact, actor, now, minutes)
    await audit(
        session, actor, "take_next", contact_id=contact.id,
        detail={"expired_claim_of": previous} if previous else {},
    )
    return contact


def _not_found(reference: str) -> QueueError:
    shown = reference.strip()[:20] if not bad_text(reference) else "?"
    return QueueError(404, f"No contact has the reference {shown!r}.")


def _usable(reference: str) -> bool:
    return 0 < len(reference) <= 40 and not bad_text(reference)


async def locked(session: AsyncSession, reference: str) -> Contact:
    """The contact, row-locked for a change (PostgreSQL), or a 404 QueueError."""
    if not _usable(reference):
        raise _not_found(reference)
    contact = await session.scalar(
        select(Contact).where(Contact.reference == reference.strip().upper()).with_for_update()
    )
    if contact is None:
        raise _not_found(reference)
    return contact


async def find(session: AsyncSession, reference: str) -> Contact:
    if not _usable(reference):
        raise _not_found(reference)
    contact = await session.scalar(
        select(Contact).where(Contact.reference == reference.strip().upper())
    )
    if contact is None:
        raise _not_found(reference)
    return contact


def _refuse_unless_open(contact: Contact) -> None:
    if contact.status == "closed":
        raise QueueError(409, f"{contact.reference} is closed.")
    if contact.status == "withdrawn":
        raise QueueError(
            409, f"{contact.reference} was withdrawn: the person withdrew their consent."
        )


def held_message(contact: Contact, profile: Profile) -> str:
    return (
        f"{contact.reference} is held by {contact.claimed_by} until "
        f"{fmt_time(contact.claim_expires_at, profile)}. A manager can reassign it."
    )


async def claim(
    session: AsyncSession,
    reference: str,
    *,
    actor: str,
    now: datetime,
    profile: Profile,
) -> Contact:
    """Take one named contact (or extend your own claim)."""
    contact = await locked(session, reference)
    _refuse_unless_open(contact)
    if (
        contact.status == "claimed"
        and contact.claimed_by != actor
        and not claim_expired(contact, now)
    ):
        raise QueueError(409, held_message(contact, profile))
    previous = contact.claimed_by if contact.status == "claimed" else None
    _hold(contact, actor, now, claim_minutes(profile))
    detail = {"expired_claim_of": previous} if previous and previous != actor else {}
    await audit(session, actor, "claim", contact_id=contact.id, detail=detail)
    return contact


def ensure_holder(contact: Contact, actor: str, *, manager: bool, now: datetime,
                  profile: Profile, doing: str) -> None:
    """Only the holder (or a manager) changes a contact; a lapsed own claim is renewed."""
    if manager:
        return
    if contact.status == "claimed" and contact.claimed_by == actor:
        if claim_expired(contact, now):
            contact.claim_expires_at = now + timedelta(minutes=claim_minutes(profile))
        return
    if contact.status == "claimed" and not claim_expired(contact, now):
        raise QueueError(409, held_message(contact, profile))
    raise QueueError(409, f"Take {contact.reference} before you {doing}: you do not hold it.")


async def release(
    session: AsyncSession,
    reference: str,
    *,
    actor: str,
    manager: bool,
    now: datetime,
    profile: Profile,
) -> Contact:
    """Put a claimed contact back in the queue."""
    contact = await locked(session, reference)
    _refuse_unless_open(contact)
    if contact.status != "claimed":
        raise QueueError(409, f"{contact.reference} is not held by anyone.")
    ensure_holder(contact, actor, manager=manager, now=now, profile=profile,
                  doing="release it")
    held_by = contact.claimed_by
    contact.status = "new"
    contact.claimed_by = None
    contact.claimed_at = None
    contact.claim_expires_at = None
    await audit(session, actor, "release", contact_id=contact.id, detail={"held_by": held_by})
    return contact


async def reassign(
    session: AsyncSession,
    reference: str,
    *,
    to: str,
    actor: str,
    now: datetime,
    profile: Profile,
) -> Contact:
    """A manager hands a contact to a named officer (checked to exist by the caller)."""
    contact = await locked(session, reference)
    _refuse_unless_open(contact)
    held_by = contact.claimed_by if contact.status == "claimed" else None
    _hold(contact, to, now, claim_minutes(profile))
    await audit(
        session, actor, "reassign", contact_id=contact.id, detail={"from": held_by, "to": to}
    )
    return contact


LIGHT = (
    defer(Contact.handover, raiseload=True),
    defer(Contact.risk_evidence, raiseload=True),
    defer(Contact.notes, raiseload=True),
)


async def open_contacts(session: AsyncSession, *, limit: int = 500) -> list[Contact]:
    """The queue page: queue columns only (the handover stays in the database)."""
    stmt = (
        select(Contact)
        .options(*LIGHT)
        .where(Contact.status.in_(OPEN_STATUSES))
        .order_by(*QUEUE_ORDER)
        .limit(limit)
    )
    return list((await session.scalars(stmt)).all())


async def held_by(session: AsyncSession, actor: str, *, limit: int = 200) -> list[Contact]:
    stmt = (
        select(Contact)
        .options(*LIGHT)
        .where(Contact.status == "claimed", Contact.claimed_by == actor)
        .order_by(*QUEUE_ORDER)
        .limit(limit)
    )
    return list((await session.scalars(stmt)).all())


async def recently_closed(
    session: AsyncSession, *, since: datetime, limit: int = 200
) -> list[Contact]:
    stmt = (
        select(Contact)
        .options(*LIGHT)
        .where(Contact.status == "closed", Contact.closed_at >= since)
        .order_by(Contact.closed_at.desc())
        .limit(limit)
    )
    return list((await session.scalars(stmt)).all())


async def count_open(session: AsyncSession) -> int:
    return int(
        await session.scalar(
            select(func.count()).select_from(Contact).where(Contact.status.in_(OPEN_STATUSES))
        )
        or 0
    )
