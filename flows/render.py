"""Turning journey data and stored answers into words, for the person and for the officer."""

from __future__ import annotations

import string
from datetime import date
from typing import Any

import phonenumbers

from flows.i18n import N_, Translator
from flows.journey import Journey, Step
from profiles import Profile


class _Fields(dict[str, Any]):
    """str.format_map helper: an unknown {placeholder} stays visible instead of raising."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def fill(template: str, params: dict[str, Any]) -> str:
    try:
        return string.Formatter().vformat(template, (), _Fields(params))
    except (ValueError, IndexError):  # a broken translation must never break a reply
        return template


def base_params(profile: Profile, t: Translator) -> dict[str, Any]:
    return {
        "hub_name": t(profile.hub_name),
        "hub_phone": profile.hub_phone,
        "council": t(profile.raw["council"]),
        "emergency": profile.emergency_number,
        "website": profile.raw["hub"]["website"],
        "draft_days": profile.draft_retention_days,
        "status_days": profile.status_visible_days,
    }


def choice_label(step: Step, choice_id: str) -> str:
    return next((c.label for c in step.choices if c.id == choice_id), choice_id)


def show_answer(step: Step, record: Any, t: Translator | None = None) -> str:
    """One answer as words. `t` given: for the person (translated); None: English for officers."""
    tr = t.gettext if t else (lambda s: s)
    if not isinstance(record, dict):
        return str(record)
    if "choice" in record:
        return tr(choice_label(step, record["choice"]))
    value = record.get("value")
    if step.type == "dob_or_age" and isinstance(value, dict):
        return show_dob(value, t)
    if step.type == "postcode" and isinstance(value, dict):
        return str(value.get("postcode", record.get("text", "")))
    if step.type == "phone" and isinstance(value, str):
        try:
            number = phonenumbers.parse(value, "GB")
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
        except phonenumbers.NumberParseException:
            return value
    if value is not None and not isinstance(value, dict):
        return str(value)
    return str(record.get("text", ""))


def show_dob(value: dict[str, Any], t: Translator | None) -> str:
    tr = t or (lambda s, **p: s.format(**p) if p else s)
    if value.get("unborn"):
        return tr(N_("Not born yet"))
    if value.get("dob"):
        born = date.fromisoformat(value["dob"])
        return tr(N_("{date} (age {age})"), date=born.strftime("%d/%m/%Y"), age=value.get("age"))
    return tr(N_("Age {age}"), age=value.get("age"))


def summary_lines(
    journey: Journey, answers: dict[str, Any], meta: dict[str, Any], t: Translator
) -> list[str]:
    """The person's answers, section by section, in their language."""
    lines: list[str] = []
    section = ""
    for step_id in journey.path(answers, meta):
        step = journey.by_id[step_id]
        if not step.summary or step_id not in answers:
            continue
        if step.section != section:
            section = step.section
            lines.append("")
            lines.append(f"— {t(journey.section_title(section))} —")
        if step.type == "loop":
            for n, item in enumerate(answers.get(step_id) or [], start=1):
                lines.append(f"{n}. " + item_line(step, item, t))
            continue
        lines.append(f"{t(step.summary)}: {show_answer(step, answers[step_id], t)}")
    return lines[1:] if lines and lines[0] == "" else lines


def item_line(loop: Step, item: dict[str, Any], t: Translator | None = None) -> str:
    """'Amy, 14/03/2016 (age 10), Gender: Girl' - the first two answers speak for themselves."""
    tr = t.gettext if t else (lambda s: s)
    parts = []
    for n, step in enumerate(s for s in loop.steps if s.id in item):
        value = show_answer(step, item[step.id], t)
        parts.append(value if n < 2 else f"{tr(step.summary)}: {value}")
    return ", ".join(parts)
