"""Threshold guidance for professionals: an indicative level of need, never a decision.

The level comes from the profile's threshold data (nlu.thresholds): indicators found in the
professional's own words (with the phrases that matched), indicators added by their answers to
the few follow-up questions, and the modifiers (under 5, additional needs, protective factors).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flows.i18n import N_, Translator
from flows.journey import Journey
from nlu.thresholds import Thresholds


@dataclass(frozen=True)
class Guidance:
    level: int | None
    level_name: str
    route: str
    matched: list[tuple[str, str]] = field(default_factory=list)  # (indicator label, phrase)
    reasons: tuple[str, ...] = ()
    indicators: tuple[str, ...] = ()
    modifiers: tuple[str, ...] = ()
    age: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"level": self.level, "level_name": self.level_name, "route": self.route,
                "matched": [{"indicator": i, "phrase": p} for i, p in self.matched],
                "reasons": list(self.reasons), "indicators": list(self.indicators),
                "modifiers": list(self.modifiers), "age": self.age}


def assess(thresholds: Thresholds, journey: Journey, answers: dict[str, Any]) -> Guidance:
    indicator_ids: list[str] = []
    modifier_ids: list[str] = []
    phrases: dict[str, str] = {}
    ages: list[int] = []
    for step in journey.steps:
        record = answers.get(step.id)
        if not isinstance(record, dict):
            continue
        analysis = record.get("nlu") or {}
        for evidence in analysis.get("evidence", []):
            if evidence.get("kind") == "indicator":
                phrases.setdefault(evidence["rule"], evidence.get("phrase", ""))
            if evidence.get("kind") == "modifier":
                modifier_ids.append(evidence["rule"])
        indicator_ids += analysis.get("indicators", [])
        ages += [e["value"] for e in analysis.get("entities", [])
                 if e.get("kind") == "age" and isinstance(e.get("value"), int)]
        choice = next((c for c in step.choices if c.id == record.get("choice")), None)
        if choice is not None:
            indicator_ids += choice.data.get("indicators", [])
            modifier_ids += choice.data.get("modifiers", [])
        value = record.get("value")
        if step.type == "dob_or_age" and isinstance(value, dict) and value.get("age") is not None:
            ages = [int(value["age"])]
    result = thresholds.assess(indicator_ids, modifier_ids, ages)
    level = result.level
    labels = {i.id: i.label for i in thresholds.indicators.values()}
    return Guidance(
        level=level,
        level_name=thresholds.levels[level].name if level else "",
        route=result.route or "",
        matched=[(labels.get(i, i), phrases.get(i, "")) for i in result.indicators],
        reasons=result.reasons,
        indicators=result.indicators,
        modifiers=result.modifiers,
        age=ages[0] if ages else None,
    )


def render(guidance: Guidance, t: Translator, what_now: dict[int, str], disclaimer: str) -> str:
    """The answer a professional sees: level, what led to it (in their words), route, next."""
    if guidance.level is None:
        return t(N_(
            "I couldn't match what you've described to the threshold guidance, so I can't "
            "suggest a level. Please phone the hub on {hub_phone} to talk it through with a "
            "social worker. If a child is in immediate danger, call {emergency}."))
    lines = [t(N_("Indicative level of need: {level}")).format(level=t(guidance.level_name)),
             "", t(N_("What led to this, from what you said:"))]
    for label, phrase in guidance.matched:
        lines.append(f"• {t(label)}" + (f" — “{phrase}”" if phrase else ""))
    lines += ["", t(N_("Route: {route}")).format(route=t(guidance.route))]
    if guidance.level in what_now:
        lines += ["", t(N_("What to do now: {action}")).format(action=t(what_now[guidance.level]))]
    lines += ["", t(disclaimer)]
    return "\n".join(lines)
