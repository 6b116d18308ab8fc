"""Keep for safeguarding, and block an abusive sender: the rules shared by console and API.

Who may do what:
- keep a contact for safeguarding: the officer holding it, or a manager (a closed contact
  has no holder, so a manager);
- lift a hold, block a sender, unblock: a manager.

Every change is audited in its own transaction, with ids and codes only: the reasons are
free text about a family and stay in `safeguarding_holds` / `blocked_senders`, which go
with the contact under erasure, not in the audit log, which outlives it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from profiles import Profile
from storage import abuse, holds
from storage.abuse import BlockedSender
from storage.holds import SafeguardingHold
from storage.models import AuditEvent, Contact
from storage.repo import audit
from triage import clock, queue
from triage.auth import Principal


class SafeguardError(Exception):
    """A refused hold or block: `status` is the HTTP status, the message is for the officer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class ContactSafeguards:
    """What the contact page shows about holds, blocks and a withdrawal."""

    hold: SafeguardingHold | None
    holds: list[SafeguardingHold]
    block: BlockedSender | None
    withdrawn_at: str | None  # ISO time the person withdrew consent (/delete), if they did
    may_hold: bool
    may_manage: bool

    @property
    def decision_needed(self) -> bool:
        """Withdrawn, still open and not kept: an officer has to decide and record it."""
        return self.withdrawn_at is not None and self.hold is None


def withdrawn_at(contact: Contact) -> str | None:
    value = ((contact.handover or {}).get("consent") or {}).get("withdrawn_at")
    return str(value) if value else None


def may_hold(contact: Contact, principal: Principal) -> bool:
    if principal.has_role("manager"):
        return True
    # As queue.ensure_holder: the holder's own lapsed claim is renewed, not lost.
    return contact.status == "claimed" and contact.claimed_by == principal.username


async def for_contact(session: AsyncSession, contact: Contact, principal: Principal,
                      now: datetime) -> ContactSafeguards:
    history = await holds.history(session, contact.id)
    current = next((h for h in history if h.lifted_at is None), None)
    block = (await abuse.active_block(session, contact.channel, contact.chat, now)
             if contact.chat else None)
    return ContactSafeguards(
        hold=current if contact.safeguarding_hold else None, holds=history, block=block,
        withdrawn_at=withdrawn_at(contact), may_hold=may_hold(contact, principal),
        may_manage=principal.has_role("manager"))


async def withdrawn_ids(session: AsyncSession, contact_ids: list[int]) -> set[int]:
    """Which of these contacts the person withdrew consent on (for the queue's tag)."""
    if not contact_ids:
        return set()
    found = (await session.scalars(
        select(AuditEvent.contact_id).where(AuditEvent.contact_id.in_(contact_ids),
                                            AuditEvent.action == "consent_withdrawn")
    )).all()
    return {cid for cid in found if cid is not None}


async def keep(session: AsyncSession, reference: str, *, reason: str, principal: Principal,
               now: datetime, profile: Profile) -> Contact:
    contact = await queue.locked(session, reference)
    if not principal.has_role("manager"):
        if contact.status == "closed":
            raise SafeguardError(403, f"{contact.reference} is closed: ask a manager to keep "
                                 "it for safeguarding.")
        queue.ensure_holder(contact, principal.username, manager=False, now=now,
                            profile=profile, doing="keep it for safeguarding")
    try:
        hold = await holds.place(session, contact, reason=reason, actor=principal.username,
                                 now=now)
    except holds.HoldError as exc:
        raise SafeguardError(400, str(exc)) from exc
    await audit(session, principal.username, "safeguarding_hold", contact_id=contact.id,
                detail={"hold": hold.id, "withdrawn": withdrawn_at(contact) is not None})
    return contact


async def lift(session: AsyncSession, reference: str, *, reason: str, principal: Principal,
               now: datetime) -> Contact:
    if not principal.has_role("manager"):
        raise SafeguardError(403, "Only a manager can lift a safeguarding hold.")
    contact = await queue.locked(session, reference)
    try:
        hold = await holds.lift(session, contact, reason=reason, actor=principal.username,
                                now=now)
    except holds.HoldError as exc:
        raise SafeguardError(400, str(exc)) from exc
    await audit(session, principal.username, "safeguarding_hold_lifted", contact_id=contact.id,
                detail={"hold": hold.id if hold else None})
    return contact


def end_of_day(text: str, profile: Profile, now: datetime) -> datetime | None:
    """A block's optional end date (YYYY-MM-DD, local): the block ends at the next midnight."""
    text = text.strip()
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError as exc:
        raise SafeguardError(400, "The end date must be a date, like 2027-01-31.") from exc
    until = clock.at_local(day + timedelta(days=1), "00:00", profile)
    if until <= now:
        raise SafeguardError(400, "The end date must be today or later.")
    return until


async def block_sender(session: AsyncSession, reference: str, *, reason: str,
                       until: datetime | None, principal: Principal,
                       now: datetime) -> BlockedSender:
    if not principal.has_role("manager"):
        raise SafeguardError(403, "Only a manager can block a sender.")
    contact = await queue.find(session, reference)
    if not contact.chat:
        raise SafeguardError(409, f"{contact.reference} has no chat to block.")
    try:
        row = await abuse.block(session, channel=contact.channel, chat=contact.chat,
                                reason=reason, actor=principal.username, now=now,
                                until=until, contact_id=contact.id)
    except abuse.BlockError as exc:
        raise SafeguardError(400, str(exc)) from exc
    await audit(session, principal.username, "block_sender", contact_id=contact.id,
                detail={"block": row.id, "channel": row.channel,
                        "until": until.isoformat() if until else None})
    return row


async def unblock_sender(session: AsyncSession, block_id: int, *, principal: Principal,
                         now: datetime) -> BlockedSender:
    if not principal.has_role("manager"):
        raise SafeguardError(403, "Only a manager can unblock a sender.")
    try:
        row = await abuse.unblock(session, block_id, actor=principal.username, now=now)
    except abuse.BlockError as exc:
        raise SafeguardError(409, str(exc)) from exc
    await audit(session, principal.username, "unblock_sender", contact_id=row.contact_id,
                detail={"block": row.id, "channel": row.channel})
    return row


@dataclass(frozen=True)
class BlockRow:
    block: BlockedSender
    reference: str | None  # the contact it was blocked from, while that contact exists


async def blocked_senders(session: AsyncSession, now: datetime, *,
                          ended: int = 20) -> tuple[list[BlockRow], list[BlockRow]]:
    """Every active block, newest first, and the latest `ended` ones (unblocked or run out)."""
    base = select(BlockedSender, Contact.reference).outerjoin(
        Contact, Contact.id == BlockedSender.contact_id)
    live = abuse.is_active(now)
    active = (await session.execute(
        base.where(live).order_by(BlockedSender.blocked_at.desc(), BlockedSender.id.desc())
    )).all()
    done = (await session.execute(
        base.where(~live).order_by(BlockedSender.id.desc()).limit(ended)
    )).all()
    return [BlockRow(b, ref) for b, ref in active], [BlockRow(b, ref) for b, ref in done]
