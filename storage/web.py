"""Web chat storage (owned by bot/web/): resume codes.

A person who chooses to come back later gets a short code; only its SHA-256 digest is stored,
with an expiry, so the table alone neither shows the code nor the conversation's words.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, OutboxItem
from storage.types import utcnow


class WebResumeCode(Base):
    """A resume code's digest -> the web chat key it reopens, until `expires_at`."""

    __tablename__ = "web_resume_codes"
    __table_args__ = (
        Index("ix_web_resume_codes_chat", "chat"),
        Index("ix_web_resume_codes_expires", "expires_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    chat: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    last_used_at: Mapped[datetime | None] = mapped_column(nullable=True)


async def wake_outbox(session: AsyncSession, channel: str, chat: str) -> None:
    """A chat window opened: its waiting replies are due now, not at their back-off time."""
    await session.execute(
        update(OutboxItem)
        .where(OutboxItem.channel == channel, OutboxItem.chat == chat, OutboxItem.sent_at.is_(None))
        .values(next_attempt_at=utcnow())
    )
