"""Safeguarding holds (owned by triage/): why a contact is kept beyond erasure and retention.

`contacts.safeguarding_hold` is what erasure and the retention purge read; each time it is
set or lifted a row here records who, when and why, so the decision can be explained to the
person and reviewed by the Data Protection Officer. The rows go with the contact if it is
ever erased (cascade), since the reasons can describe the family.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, Contact
from storage.types import EncryptedText, utcnow

MAX_REASON = 2000


class SafeguardingHold(Base):
    """One "keep for safeguarding" decision on a contact, and its lifting if it was lifted."""

    __tablename__ = "safeguarding_holds"
    __table_args__ = (Index("ix_safeguarding_holds_contact", "contact_id", "set_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(EncryptedText)
    set_by: Mapped[str] = mapped_column(String(80))
    set_at: Mapped[datetime] = mapped_column(default=utcnow)
    lifted_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    lifted_at: Mapped[datetime | None] = mapped_column(nullable=True)
    lift_reason: Mapped[str] = mapped_column(EncryptedText, default="")


class HoldError(ValueError):
    """A hold that cannot be placed or lifted; the message is for the officer."""


async def current(session: AsyncSession, contact_id: int) -> SafeguardingHold | None:
    return await session.scalar(
        select(SafeguardingHold)
        .where(SafeguardingHold.contact_id == contact_id, SafeguardingHold.lifted_at.is_(None))
        .order_by(SafeguardingHold.id.desc())
        .limit(1)
    )


async def history(session: AsyncSession, contact_id: int) -> list[SafeguardingHold]:
    return list(
        (
            await session.scalars(
                select(SafeguardingHold)
                .where(SafeguardingHold.contact_id == contact_id)
                .order_by(SafeguardingHold.id.desc())
            )
        ).all()
    )


def _reason(text: str, what: str) -> str:
    text = text.strip()
    if not text:
        raise HoldError(f"Give a reason for {what}.")
    return text[:MAX_REASON]


async def place(
    session: AsyncSession, contact: Contact, *, reason: str, actor: str, now: datetime
) -> SafeguardingHold:
    """Keep this contact for safeguarding (the caller has locked the contact row)."""
    reason = _reason(reason, "keeping this contact")
    if contact.safeguarding_hold:
        raise HoldError(f"{contact.reference} is already kept for safeguarding.")
    hold = SafeguardingHold(contact_id=contact.id, reason=reason, set_by=actor, set_at=now)
    session.add(hold)
    contact.safeguarding_hold = True
    await session.flush()
    return hold


async def lift(
    session: AsyncSession, contact: Contact, *, reason: str, actor: str, now: datetime
) -> SafeguardingHold | None:
    """Lift the hold: erasure and retention apply to the contact again."""
    reason = _reason(reason, "lifting the hold")
    if not contact.safeguarding_hold:
        raise HoldError(f"{contact.reference} is not kept for safeguarding.")
    hold = await current(session, contact.id)
    if hold is not None:  # a hold set before this table existed has no row to close
        hold.lifted_at = now
        hold.lifted_by = actor
        hold.lift_reason = reason
    contact.safeguarding_hold = False
    await session.flush()
    return hold
