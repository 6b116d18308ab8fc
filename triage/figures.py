"""The figures the select committee asked for: contacts by source, category, locality,
outcome and language, and time to triage, for a chosen period (local dates, inclusive).

Counts are done by the database (GROUP BY); only the closed contacts' two timestamps are
read back, so a year of contacts is cheap.
"""

from __future__ import annotations

import csv
import io
import statistics
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from profiles import Profile
from storage.models import Contact
from triage.clock import local_day_bounds
from triage.handover_view import humanise, language_name
from triage.sla import band, minutes_for

DIMENSIONS = ("source", "category", "locality", "outcome", "language")
TITLES = {
    "source": "By source",
    "category": "By category",
    "locality": "By locality",
    "outcome": "By outcome",
    "language": "By language",
}
NOT_RECORDED = "Not recorded"


@dataclass(frozen=True)
class Count:
    key: str
    label: str
    count: int


@dataclass(frozen=True)
class TriageTimes:
    band: str
    closed: int
    median_minutes: float | None
    p90_minutes: float | None
    within_sla: int


@dataclass
class Figures:
    first: date
    last: date
    total: int = 0
    by: dict[str, list[Count]] = field(default_factory=dict)
    times: list[TriageTimes] = field(default_factory=list)


def _label(dimension: str, key: str | None, profile: Profile) -> str:
    if not key:
        return NOT_RECORDED
    if dimension == "category":
        return profile.category_label(key) or key
    if dimension == "outcome":
        return profile.outcome_label(key) or key
    if dimension == "locality":
        place = profile.locality(key)
        return place.name if place else key
    if dimension == "language":
        return language_name(key)
    return humanise(key)


def _percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def parse_period(first: str | None, last: str | None, today: date) -> tuple[date, date]:
    """Dates from the form (YYYY-MM-DD); defaults to the last 30 days. ValueError if bad."""
    try:
        end = date.fromisoformat(last) if last else today
        start = date.fromisoformat(first) if first else end - timedelta(days=29)
    except ValueError as exc:
        raise ValueError("Dates must look like 2025-01-31.") from exc
    if start > end:
        raise ValueError("The start date must be on or before the end date.")
    if (end - start).days > 3660:
        raise ValueError("Choose a period of at most ten years.")
    return start, end


async def compute(session: AsyncSession, profile: Profile, first: date, last: date) -> Figures:
    start, end = local_day_bounds(first, last, profile)
    in_period = (Contact.created_at >= start, Contact.created_at < end)
    figures = Figures(first, last)
    figures.total = int(
        await session.scalar(select(func.count()).select_from(Contact).where(*in_period)) or 0
    )
    for dimension in DIMENSIONS:
        column = getattr(Contact, dimension)
        rows = await session.execute(
            select(column, func.count()).where(*in_period).group_by(column)
        )
        counts = [Count(key or "", _label(dimension, key, profile), int(n)) for key, n in rows]
        figures.by[dimension] = sorted(counts, key=lambda c: (-c.count, c.label))
    closed = await session.execute(
        select(Contact.created_at, Contact.closed_at, Contact.urgency, Contact.rag).where(
            *in_period, Contact.status == "closed", Contact.closed_at.is_not(None)
        )
    )
    minutes: dict[str, list[float]] = {"all": [], "red": [], "amber": [], "green": []}
    within: dict[str, int] = dict.fromkeys(minutes, 0)
    for created, closed_at, urgency, rag in closed:
        if closed_at is None:
            continue
        taken = (closed_at - created).total_seconds() / 60
        name = band(urgency, rag)
        for key in ("all", name):
            minutes[key].append(taken)
            if taken <= minutes_for(profile, name):
                within[key] += 1
    for key, values in minutes.items():
        figures.times.append(
            TriageTimes(
                band=key,
                closed=len(values),
                median_minutes=statistics.median(values) if values else None,
                p90_minutes=_percentile(values, 0.9),
                within_sla=within[key],
            )
        )
    return figures


def to_csv(figures: Figures) -> str:
    """One table: section, key, label, value — easy to pivot in a spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["section", "key", "label", "value"])
    writer.writerow(["period", "first", "First day", figures.first.isoformat()])
    writer.writerow(["period", "last", "Last day", figures.last.isoformat()])
    writer.writerow(["total", "contacts", "Contacts", figures.total])
    for dimension in DIMENSIONS:
        for count in figures.by.get(dimension, []):
            writer.writerow([dimension, count.key, _safe(count.label), count.count])
    for times in figures.times:
        prefix = f"time_to_triage_{times.band}"
        writer.writerow([prefix, "closed", "Contacts closed", times.closed])
        writer.writerow([prefix, "median_minutes", "Median minutes",
                         "" if times.median_minutes is None else f"{times.median_minutes:.1f}"])
        writer.writerow([prefix, "p90_minutes", "90th percentile minutes",
                         "" if times.p90_minutes is None else f"{times.p90_minutes:.1f}"])
        writer.writerow([prefix, "within_sla", "Closed within the SLA", times.within_sla])
    return out.getvalue()


def _safe(text: str) -> str:
    """Stop a spreadsheet from running a label as a formula (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
