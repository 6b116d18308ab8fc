"""Who is on duty now, from the profile's shifts (seed 001): for out-of-hours awareness."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from profiles import Profile


@dataclass(frozen=True)
class Duty:
    shift: str  # "day", "late", "night"
    shift_hours: str  # "16:00–00:00"
    out_of_hours: bool
    handover: str  # "08:00–09:00"
    local_time: str


def _t(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def all_day_out_of_hours(day: date) -> bool:
    """Saturdays and Sundays are out of hours from start to end."""
    return day.weekday() >= 5


def _within(now: time, start: time, end: time) -> bool:
    if start < end:
        return start <= now < end
    return now >= start or now < end  # crosses midnight (end 00:00 means midnight)


# profile id() -> (profile, the minute, its duty): the answer changes once a minute at most,
# and every question a turn renders asks for it.
_CACHE: dict[int, tuple[Profile, datetime, Duty]] = {}


def duty_now(profile: Profile, now: datetime) -> Duty:
    minute = now.replace(second=0, microsecond=0)
    cached = _CACHE.get(id(profile))
    if cached is not None and cached[0] is profile and cached[1] == minute:
        return cached[2]
    duty = _duty(profile, now)
    _CACHE[id(profile)] = (profile, minute, duty)
    return duty


def _duty(profile: Profile, now: datetime) -> Duty:
    raw = profile.raw
    local = now.astimezone(ZoneInfo(raw.get("timezone", "Europe/London")))
    clock = local.time()
    shift = next(
        (s for s in raw["shifts"] if _within(clock, _t(s["start"]), _t(s["end"]))),
        raw["shifts"][0],
    )
    ooh = raw["out_of_hours"]
    weekend = all_day_out_of_hours(local.date())
    return Duty(
        shift=shift["name"],
        shift_hours=f"{shift['start']}–{shift['end']}",
        out_of_hours=weekend or _within(clock, _t(ooh["start"]), _t(ooh["end"])),
        handover=f"{raw['handover']['start']}–{raw['handover']['end']}",
        local_time=local.strftime("%H:%M"),
    )
