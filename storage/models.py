"""The database schema: typed SQLAlchemy 2 models.

Queue columns on `Contact` are real columns (ordered, filtered, claimed); the full structured
handover is JSON that follows `storage/handover.schema.json`. Free text and identifiers are
`Encrypted*` columns (storage/crypto.py): SQL can only test them for NULL, so anything a query
filters or orders by must be a plain column. Chat ids stay plain because every turn looks
them up.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from storage.types import EncryptedJSON, EncryptedText, JSONType, UTCDateTime, utcnow


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: JSONType, list[Any]: JSONType, datetime: UTCDateTime,
    }


class Conversation(Base):
    """One person's chat on one channel; `state` holds the journey position and answers."""

    __tablename__ = "conversations"
    __table_args__ = (UniqueConstraint("channel", "chat", name="uq_conversation_chat"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    chat: Mapped[str] = mapped_column(String(128))
    language: Mapped[str] = mapped_column(String(8), default="en")
    journey: Mapped[str] = mapped_column(String(40), default="self_referral")
    run: Mapped[int] = mapped_column(Integer, default=1)
    state: Mapped[dict[str, Any]] = mapped_column(EncryptedJSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="active")
    # The contact this run created (a red contact exists before the journey ends).
    contact_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_activity_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    turns: Mapped[list[Turn]] = relationship(
        back_populates="conversation", cascade="all, delete-orphan", passive_deletes=True
    )


class InboxItem(Base):
    """An inbound message, stored before it is processed so a crash never loses it.

    The unique (channel, external_id) makes a redelivered platform update a no-op.
    """

    __tablename__ = "inbox"
    __table_args__ = (
        UniqueConstraint("channel", "external_id", name="uq_inbox_external"),
        Index("ix_inbox_pending", "processed_at", "channel", "chat", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    chat: Mapped[str] = mapped_column(String(128))
    external_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    payload: Mapped[dict[str, Any]] = mapped_column(EncryptedJSON)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class Turn(Base):
    """One message in or out, in order; the transcript an officer may open on request."""

    __tablename__ = "turns"
    __table_args__ = (Index("ix_turns_conversation_run", "conversation_id", "run", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE")
    )
    run: Mapped[int] = mapped_column(Integer)
    direction: Mapped[str] = mapped_column(String(3))  # "in" | "out"
    step: Mapped[str | None] = mapped_column(String(60), nullable=True)
    kind: Mapped[str] = mapped_column(String(20), default="text")
    text: Mapped[str] = mapped_column(EncryptedText, default="")
    risk: Mapped[str | None] = mapped_column(String(12), nullable=True)
    analysis: Mapped[dict[str, Any] | None] = mapped_column(EncryptedJSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    conversation: Mapped[Conversation] = relationship(back_populates="turns")


class Contact(Base):
    """A structured contact in the triage queue."""

    __tablename__ = "contacts"
    __table_args__ = (
        Index("ix_contacts_queue", "status", "urgency_rank", "created_at"),
        Index("ix_contacts_created", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL"), nullable=True
    )
    run: Mapped[int] = mapped_column(Integer, default=1)
    source: Mapped[str] = mapped_column(String(20))  # parent_carer, young_person, professional...
    journey: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(20))
    chat: Mapped[str | None] = mapped_column(String(128), nullable=True)
    # new -> claimed -> closed; "withdrawn" when consent is withdrawn.
    status: Mapped[str] = mapped_column(String(20), default="new")
    complete: Mapped[bool] = mapped_column(Boolean, default=False)
    # immediate | urgent | standard (from the risk detector; officers set `rag`).
    urgency: Mapped[str] = mapped_column(String(12), default="standard")
    urgency_rank: Mapped[int] = mapped_column(Integer, default=5)
    rag: Mapped[str | None] = mapped_column(String(8), nullable=True)
    category: Mapped[str | None] = mapped_column(String(80), nullable=True)
    suggested_category: Mapped[str | None] = mapped_column(String(80), nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(80), nullable=True)
    locality: Mapped[str | None] = mapped_column(String(40), nullable=True)
    language: Mapped[str] = mapped_column(String(8), default="en")
    interpreter_needed: Mapped[bool] = mapped_column(Boolean, default=False)
    handover: Mapped[dict[str, Any]] = mapped_column(EncryptedJSON, default=dict)
    risk_evidence: Mapped[list[Any]] = mapped_column(EncryptedJSON, default=list)
    notes: Mapped[str] = mapped_column(EncryptedText, default="")
    safeguarding_hold: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(nullable=True)
    claimed_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    claim_expires_at: Mapped[datetime | None] = mapped_column(nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(nullable=True)

    consents: Mapped[list[ConsentRecord]] = relationship(
        back_populates="contact", cascade="all, delete-orphan", passive_deletes=True
    )


class ConsentRecord(Base):
    """What was agreed, by whom, and why not where consent was not obtained (rec. 7)."""

    __tablename__ = "consent_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    given_by: Mapped[str] = mapped_column(String(20))  # parent_carer | young_person | professional
    referral_consent: Mapped[str] = mapped_column(String(12))  # yes | no | not_needed
    no_consent_reason: Mapped[str | None] = mapped_column(String(40), nullable=True)
    no_consent_explanation: Mapped[str] = mapped_column(EncryptedText, default="")
    sharing: Mapped[str] = mapped_column(String(12))  # yes | no | some | not_asked
    sharing_limits: Mapped[str] = mapped_column(EncryptedText, default="")
    central_storage: Mapped[bool] = mapped_column(Boolean)
    verbal: Mapped[bool] = mapped_column(Boolean, default=True)
    young_person_age: Mapped[int | None] = mapped_column(Integer, nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(nullable=True)

    contact: Mapped[Contact] = relationship(back_populates="consents")


class AuditEvent(Base):
    """Who did what, when: every view and change of a contact."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_contact", "contact_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(40))
    contact_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(EncryptedJSON, default=dict)


class OutboxItem(Base):
    """An outbound message, written in the same transaction as the turn that caused it."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "sent_at", "channel", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    chat: Mapped[str] = mapped_column(String(128))
    payload: Mapped[dict[str, Any]] = mapped_column(EncryptedJSON)
    contact_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(String(200), default="")
