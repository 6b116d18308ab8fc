"""Local time for people, UTC for storage.

Officers read times in the council's zone (profile `timezone`); every stored time is UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from profiles import Profile


def zone(profile: Profile) -> ZoneInfo:
    return ZoneInfo(str(profile.raw.get("timezone", "Europe/London")))


def local(dt: datetime, profile: Profile) -> datetime:
    return dt.astimezone(zone(profile))


def fmt(dt: datetime | None, profile: Profile) -> str:
    """'Mon 24 Nov 14:32' in local time; empty for None."""
    return "" if dt is None else local(dt, profile).strftime("%a %d %b %H:%M")


def fmt_time(dt: datetime | None, profile: Profile) -> str:
    return "" if dt is None else local(dt, profile).strftime("%H:%M")


def at_local(day: date, clock: str, profile: Profile) -> datetime:
    """UTC instant of `HH:MM` on a local `day` (DST handled by the zone)."""
    hours, minutes = (int(part) for part in clock.split(":"))
    return datetime.combine(day, time(hours, minutes), tzinfo=zone(profile)).astimezone(UTC)


def local_today(profile: Profile, now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(zone(profile)).date()


def local_day_bounds(first: date, last: date, profile: Profile) -> tuple[datetime, datetime]:
    """UTC [start of `first`, start of the day after `last`) in local days."""
    return at_local(first, "00:00", profile), at_local(last + timedelta(days=1), "00:00", profile)


def duration(delta: timedelta) -> str:
    """'1 h 05 min', '12 min', '2 d 3 h' — short enough for a queue column."""
    minutes = int(abs(delta.total_seconds()) // 60)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {mins:02d} min"
    return f"{mins} min"
