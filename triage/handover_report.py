"""The morning out-of-hours handover: what arrived out of hours since the previous one
(17:00 to 08:00 by the profile's `out_of_hours`, weekends all day), with urgency, the outcome
so far and who holds it.

Used by `frontdoor handover`, the console page and its PDF, so all three list the same.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from flows.duty import all_day_out_of_hours
from profiles import Profile
from storage.models import Contact
from triage.clock import at_local, fmt
from triage.handover_view import humanise
from triage.queue import QUEUE_ORDER


@dataclass(frozen=True)
class Window:
    day: date
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Line:
    reference: str
    arrived: str
    urgency: str
    rag: str
    source: str
    locality: str
    language: str
    category: str
    outcome: str
    status: str
    held_by: str


COLUMNS = ("reference", "arrived", "urgency", "rag", "source", "locality", "language",
           "category", "outcome", "status", "held_by")
HEADINGS = ("Reference", "Arrived", "Urgency", "RAG", "Source", "Locality", "Language",
            "Category", "Outcome so far", "Status", "Held by")


def window_for(profile: Profile, day: date) -> Window:
    """Up to out_of_hours.end on `day`, from out_of_hours.start the day before; but after a
    Saturday or Sunday, out of hours all day (flows/duty.py), from that day's
    out_of_hours.end, where the previous handover stopped. So Friday 17:00 to Monday 08:00 is
    covered by the Saturday, Sunday and Monday handovers: no contact falls between two."""
    hours = profile.raw.get("out_of_hours", {"start": "17:00", "end": "08:00"})
    before = day - timedelta(days=1)
    since = hours["end"] if all_day_out_of_hours(before) else hours["start"]
    start = at_local(before, str(since), profile)
    end = at_local(day, str(hours["end"]), profile)
    return Window(day, start, end)


def _line(contact: Contact, profile: Profile) -> Line:
    place = profile.locality(contact.locality) if contact.locality else None
    language = contact.language + (" (interpreter)" if contact.interpreter_needed else "")
    return Line(
        reference=contact.reference,
        arrived=fmt(contact.created_at, profile),
        urgency=contact.urgency,
        rag=contact.rag or "",
        source=humanise(contact.source),
        locality=place.name if place else (contact.locality or ""),
        language=language,
        category=(profile.category_label(contact.category) or contact.category)
        if contact.category else "",
        outcome=(profile.outcome_label(contact.outcome) or contact.outcome)
        if contact.outcome else "none yet",
        status=contact.status,
        held_by=contact.claimed_by or "",
    )


async def lines(session: AsyncSession, profile: Profile, window: Window) -> list[Line]:
    stmt = (
        select(Contact)
        .where(Contact.created_at >= window.start, Contact.created_at < window.end)
        .order_by(*QUEUE_ORDER)
    )
    return [_line(c, profile) for c in (await session.scalars(stmt)).all()]


def title(window: Window, profile: Profile) -> str:
    return (
        f"Out-of-hours handover for {window.day:%A %d %B %Y}: contacts from "
        f"{fmt(window.start, profile)} to {fmt(window.end, profile)}"
    )


def as_text(window: Window, rows: list[Line], profile: Profile) -> str:
    table = [HEADINGS] + [tuple(getattr(r, c) for c in COLUMNS) for r in rows]
    widths = [max(len(str(row[i])) for row in table) for i in range(len(COLUMNS))]
    out = [title(window, profile), f"{len(rows)} contact(s)", ""]
    for row in table:
        out.append("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(out) + "\n"


def as_csv(rows: list[Line]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADINGS)
    for row in rows:
        writer.writerow([getattr(row, c) for c in COLUMNS])
    return out.getvalue()
