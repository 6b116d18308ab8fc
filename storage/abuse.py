"""Abuse controls (owned by flows/processor.py and triage/): blocked senders, notice times,
and the inbox index the per-conversation rate limit counts with.

Blocking deletes nothing: the block row names the chat, who blocked it, why and until when,
and it stays (with `unblocked_at`) after an unblock, so the decision can be reviewed. The
rate limit needs no table of its own: it counts the chat's inbox rows of the last minute,
which every worker on one database shares.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ForeignKey,
    Index,
    Integer,
    Select,
    String,
    UniqueConstraint,
    and_,
    case,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.elements import ColumnElement

from storage.batch_sql import among
from storage.models import Base, Conversation, InboxItem
from storage.types import EncryptedText, utcnow

# The rate limit's count: one range scan of this chat's latest rows.
INBOX_CHAT_RECEIVED = Index(
    "ix_inbox_chat_received", InboxItem.channel, InboxItem.chat, InboxItem.received_at
)


class BlockedSender(Base):
    """One officer decision to stop handling a chat's messages, until `until` or an unblock."""

    __tablename__ = "blocked_senders"
    __table_args__ = (Index("ix_blocked_senders_chat", "channel", "chat", "unblocked_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    chat: Mapped[str] = mapped_column(String(128))
    # The contact page the block was made from (kept while that contact exists).
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL"), nullable=True
    )
    reason: Mapped[str] = mapped_column(EncryptedText)
    blocked_by: Mapped[str] = mapped_column(String(80))
    blocked_at: Mapped[datetime] = mapped_column(default=utcnow)
    until: Mapped[datetime | None] = mapped_column(nullable=True)
    unblocked_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    unblocked_at: Mapped[datetime | None] = mapped_column(nullable=True)

    def active(self, now: datetime) -> bool:
        return self.unblocked_at is None and (self.until is None or self.until > now)


class SenderNotice(Base):
    """When a chat was last told it is sending too fast or is blocked: at most once a window."""

    __tablename__ = "sender_notices"
    __table_args__ = (UniqueConstraint("channel", "chat", "kind", name="uq_sender_notice"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    chat: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(20))  # "rate" | "blocked"
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)


@dataclass(frozen=True)
class SenderStatus:
    """What the intake needs to know about a chat, read in one query."""

    recent: int  # inbox rows within the burst window
    last_minute: int  # inbox rows within the last 60 seconds
    block_id: int | None


def is_active(now: datetime) -> ColumnElement[bool]:
    """Not unblocked, and no end date or one still ahead."""
    return and_(
        BlockedSender.unblocked_at.is_(None),
        or_(BlockedSender.until.is_(None), BlockedSender.until > now),
    )


def _active_block(channel: str, chat: str, now: datetime) -> Select[Any]:
    return (
        select(BlockedSender.id)
        .where(
            BlockedSender.channel == channel,
            BlockedSender.chat == chat,
            is_active(now),
        )
        .order_by(BlockedSender.id)
        .limit(1)
    )


async def sender_statuses(
    session: AsyncSession, channel: str, chats: Collection[str], *, now: datetime,
    burst_seconds: int,
) -> dict[str, SenderStatus]:
    """Every chat of an intake batch in two queries: the counts (one index range scan per
    chat, grouped) and any active blocks."""
    wanted = list(dict.fromkeys(chats))
    burst_since = now - timedelta(seconds=burst_seconds)
    minute_since = now - timedelta(seconds=60)
    counts = (await session.execute(
        select(
            InboxItem.chat,
            func.sum(case((InboxItem.received_at >= burst_since, 1), else_=0)),
            func.count(InboxItem.id),
        )
        .where(InboxItem.channel == channel, among(session, InboxItem.chat, wanted),
               InboxItem.received_at >= minute_since)
        .group_by(InboxItem.chat)
    )).all()
    blocks = (await session.execute(
        select(BlockedSender.chat, func.min(BlockedSender.id))
        .where(BlockedSender.channel == channel, among(session, BlockedSender.chat, wanted),
               is_active(now))
        .group_by(BlockedSender.chat)
    )).all()
    recent = {chat: (int(burst or 0), int(minute or 0)) for chat, burst, minute in counts}
    blocked = {chat: block_id for chat, block_id in blocks}
    return {
        chat: SenderStatus(recent=recent.get(chat, (0, 0))[0],
                           last_minute=recent.get(chat, (0, 0))[1],
                           block_id=blocked.get(chat))
        for chat in wanted
    }


async def claim_notice(
    session: AsyncSession, channel: str, chat: str, kind: str, *, now: datetime, every: timedelta
) -> bool:
    """True when this chat may be sent the `kind` notice now (and records that it was).

    Safe with several workers: the conditional update and the unique insert let exactly one
    of two racing transactions win.
    """
    moved = await session.execute(
        update(SenderNotice)
        .where(
            SenderNotice.channel == channel,
            SenderNotice.chat == chat,
            SenderNotice.kind == kind,
            SenderNotice.sent_at <= now - every,
        )
        .values(sent_at=now)
    )
    if moved.rowcount:  # type: ignore[attr-defined]
        return True
    exists = await session.scalar(
        select(SenderNotice.id).where(
            SenderNotice.channel == channel, SenderNotice.chat == chat, SenderNotice.kind == kind
        )
    )
    if exists is not None:
        return False
    try:
        async with session.begin_nested():
            session.add(SenderNotice(channel=channel, chat=chat, kind=kind, sent_at=now))
            await session.flush()
    except IntegrityError:
        return False
    return True


class BlockError(ValueError):
    """A block or unblock that cannot be done; the message is for the officer."""


async def block(
    session: AsyncSession,
    *,
    channel: str,
    chat: str,
    reason: str,
    actor: str,
    now: datetime,
    until: datetime | None = None,
    contact_id: int | None = None,
) -> BlockedSender:
    reason = reason.strip()
    if not reason:
        raise BlockError("Give a reason for blocking this sender.")
    if until is not None and until <= now:
        raise BlockError("The end date must be in the future.")
    current = await active_block(session, channel, chat, now)
    if current is not None:
        raise BlockError("This sender is already blocked.")
    row = BlockedSender(
        channel=channel,
        chat=chat,
        reason=reason[:2000],
        blocked_by=actor,
        blocked_at=now,
        until=until,
        contact_id=contact_id,
    )
    session.add(row)
    await session.flush()
    return row


async def unblock(
    session: AsyncSession, block_id: int, *, actor: str, now: datetime
) -> BlockedSender:
    row = await session.get(BlockedSender, block_id, with_for_update=True)
    if row is None or not row.active(now):
        raise BlockError("That block has already ended.")
    row.unblocked_at = now
    row.unblocked_by = actor
    return row


async def active_block(
    session: AsyncSession, channel: str, chat: str, now: datetime
) -> BlockedSender | None:
    block_id = await session.scalar(_active_block(channel, chat, now))
    return None if block_id is None else await session.get(BlockedSender, block_id)


async def sender_language(session: AsyncSession, channel: str, chat: str) -> str | None:
    """The language the chat's conversation uses, for a notice (None: no conversation)."""
    return await session.scalar(
        select(Conversation.language).where(
            Conversation.channel == channel, Conversation.chat == chat
        )
    )
