"""Recording an officer's decision: category, RAG, outcome, notes, and closing.

The decision is kept in the queue columns (for ordering and figures) and mirrored in the
`triage` object of the contact's handover JSON (see storage/handover.schema.json), which is
what the engine reads when the referrer asks for the status of their reference.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from profiles import Profile
from storage.models import Contact
from storage.repo import audit, queue_rank
from triage.notify import outcome_notice
from triage.text import bad_text

RAGS = ("red", "amber", "green")
MAX_NOTES = 20_000


class OutcomeError(ValueError):
    """The decision cannot be recorded as given; the message says exactly why."""


@dataclass(frozen=True)
class Decision:
    """What the officer submitted; None means "leave as it is"."""

    category: str | None = None
    rag: str | None = None
    outcome: str | None = None
    notes: str | None = None
    close: bool = False


def triage_block(contact: Contact) -> dict[str, Any]:
    """A copy of the `triage` object (JSON columns change only when reassigned whole)."""
    block = (contact.handover or {}).get("triage")
    return dict(block) if isinstance(block, dict) else {}


def store_triage_block(contact: Contact, block: dict[str, Any]) -> None:
    handover = dict(contact.handover or {})
    handover["triage"] = block
    contact.handover = handover


def _validate(decision: Decision, profile: Profile, contact: Contact) -> None:
    if decision.category and profile.category_label(decision.category) is None:
        raise OutcomeError("Choose a category from the list.")
    if decision.rag and decision.rag not in RAGS:
        raise OutcomeError("Choose a RAG rating: red, amber or green.")
    if decision.outcome and profile.outcome_label(decision.outcome) is None:
        raise OutcomeError("Choose an outcome from the list.")
    for value in (decision.category, decision.rag, decision.outcome, decision.notes):
        if value is not None and bad_text(value):
            raise OutcomeError("The form contains characters that are not allowed.")
    if decision.notes is not None and len(decision.notes) > MAX_NOTES:
        raise OutcomeError(f"Notes can be at most {MAX_NOTES} characters.")
    if decision.close:
        missing = [
            name
            for name, value in (
                ("a category", decision.category or contact.category),
                ("a RAG rating", decision.rag or contact.rag),
                ("an outcome", decision.outcome or contact.outcome),
            )
            if not value
        ]
        if missing:
            raise OutcomeError("Before closing, choose " + " and ".join(missing) + ".")


async def record(
    session: AsyncSession,
    contact: Contact,
    decision: Decision,
    *,
    actor: str,
    profile: Profile,
    now: datetime,
) -> dict[str, list[Any]]:
    """Apply the decision (the caller has checked who may); returns what changed."""
    if contact.status in ("closed", "withdrawn"):
        raise OutcomeError(f"{contact.reference} is {contact.status}; it cannot be changed.")
    _validate(decision, profile, contact)
    changes: dict[str, list[Any]] = {}
    for field in ("category", "rag", "outcome"):
        value = getattr(decision, field)
        if value and value != getattr(contact, field):
            changes[field] = [getattr(contact, field), value]
            setattr(contact, field, value)
    if decision.notes is not None and decision.notes != contact.notes:
        changes["notes"] = ["(changed)", f"{len(decision.notes)} characters"]
        contact.notes = decision.notes
    contact.urgency_rank = queue_rank(contact.urgency, contact.rag)
    block = triage_block(contact)
    if contact.category:
        block["category"] = contact.category
        block["category_label"] = profile.category_label(contact.category)
    if contact.rag:
        block["rag"] = contact.rag
    if "outcome" in changes:
        block["outcome"] = contact.outcome
        block["outcome_label"] = profile.outcome_label(contact.outcome or "")
        block["outcome_at"] = now.isoformat()
    if decision.close:
        contact.status = "closed"
        contact.closed_at = now
        contact.claim_expires_at = None
        changes["status"] = ["claimed", "closed"]
        block["closed_at"] = now.isoformat()
    block["status"] = contact.status
    store_triage_block(contact, block)
    if changes:
        await audit(session, actor, "close" if decision.close else "triage_update",
                    contact_id=contact.id, detail={"changes": changes})
    if "outcome" in changes and await outcome_notice(session, contact, profile, now):
        changes["notified"] = [None, contact.channel]
    return changes
