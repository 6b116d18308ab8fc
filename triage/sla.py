"""SLA timers from the profile's `sla_minutes` (seed 001: red 20-30 minutes, amber a couple of
hours to a day, green longer).

The clock starts when the contact arrives. A contact nobody has rated yet runs on the amber
clock: an unread contact must not get the most relaxed target by default.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from profiles import Profile
from storage.models import Contact
from triage.clock import duration

DEFAULT_MINUTES = {"red": 30, "amber": 480, "green": 1440}


def band(urgency: str, rag: str | None) -> str:
    if urgency in ("immediate", "urgent") or rag == "red":
        return "red"
    if rag in ("amber", "green"):
        return rag
    return "amber"


def minutes_for(profile: Profile, band_name: str) -> int:
    table = {**DEFAULT_MINUTES, **profile.raw.get("sla_minutes", {})}
    return int(table[band_name])


@dataclass(frozen=True)
class Sla:
    band: str
    due_at: datetime
    remaining: timedelta  # negative once overdue (or how early/late a closed contact was)
    breached: bool
    finished: bool

    @property
    def label(self) -> str:
        if self.finished:
            return f"missed by {duration(self.remaining)}" if self.breached else "met"
        if self.breached:
            return f"overdue by {duration(self.remaining)}"
        return f"{duration(self.remaining)} left"


def sla_for(contact: Contact, profile: Profile, now: datetime) -> Sla:
    name = band(contact.urgency, contact.rag)
    due = contact.created_at + timedelta(minutes=minutes_for(profile, name))
    end = contact.closed_at if contact.status == "closed" and contact.closed_at else None
    remaining = due - (end or now)
    return Sla(
        band=name,
        due_at=due,
        remaining=remaining,
        breached=remaining.total_seconds() < 0,
        finished=end is not None,
    )
