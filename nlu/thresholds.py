"""Threshold guidance for professionals: the council's indicators of need (data in the
profile's ``thresholds.yaml``) and the mapping from matched indicators and modifiers to an
indicative level of need with its reasons and route.

The level is indicative: the matrix is explicitly not a tick-box exercise, and a qualified
social worker at the hub makes the decision. The answer therefore always carries the
indicators that led to it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nlu.lexicon import Rule, read_yaml, rules_from_spec
from nlu.types import Risk

LEVEL_RISK: dict[int, Risk] = {1: "none", 2: "concern", 3: "concern", 4: "urgent"}


def default_profile_dir() -> Path:
    """``profiles/<FRONTDOOR_PROFILE or hillingdon>`` next to this package."""
    return (Path(__file__).resolve().parent.parent / "profiles"
            / os.environ.get("FRONTDOOR_PROFILE", "hillingdon"))


@dataclass(frozen=True)
class Level:
    level: int
    name: str
    route: str
    description: str = ""


@dataclass(frozen=True)
class Indicator:
    id: str
    domain: str
    level: int
    label: str
    escalates_with: tuple[str, ...] = ()
    cues: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Modifier:
    """A factor that shifts the level: +1 (vulnerability) or -1 (protective)."""

    id: str
    label: str
    shift: int
    min_level: int
    max_level: int
    flagged_only: bool
    age_below: int | None = None
    cues: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Assessment:
    level: int | None
    route: str | None
    indicators: tuple[str, ...]
    modifiers: tuple[str, ...]
    reasons: tuple[str, ...]


def _cues(value: Any) -> dict[str, tuple[str, ...]]:
    return {str(lang): tuple(str(c) for c in cues or ()) for lang, cues in (value or {}).items()}


def _language_cues(value: Any) -> dict[str, dict[str, tuple[str, ...]]]:
    """``language_cues: {pl: {indicator_id: [...]}}`` regrouped by indicator id; this lets
    translators keep one block per language."""
    out: dict[str, dict[str, tuple[str, ...]]] = {}
    for lang, block in (value or {}).items():
        for ident, cues in (block or {}).items():
            out.setdefault(str(ident), {})[str(lang)] = tuple(str(c) for c in cues or ())
    return out


def _merge(a: dict[str, tuple[str, ...]], b: dict[str, tuple[str, ...]]
           ) -> dict[str, tuple[str, ...]]:
    merged = dict(a)
    for lang, cues in b.items():
        merged[lang] = merged.get(lang, ()) + cues
    return merged


class Thresholds:
    """A loaded ``thresholds.yaml``."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.source = str(data.get("source", ""))
        self.disclaimer = str(data.get("disclaimer", ""))
        self.levels = {int(lv["level"]): Level(int(lv["level"]), str(lv["name"]),
                                               str(lv["route"]), str(lv.get("description", "")))
                       for lv in data["levels"]}
        self.domains: dict[str, str] = {str(k): str(v) for k, v in data["domains"].items()}
        extra = _language_cues(data.get("language_cues"))
        self.indicators: dict[str, Indicator] = {}
        for item in data["indicators"]:
            ind = Indicator(
                id=str(item["id"]), domain=str(item["domain"]), level=int(item["level"]),
                label=str(item["label"]),
                escalates_with=tuple(item.get("escalates_with") or ()),
                cues=_merge(_cues(item.get("cues")), extra.pop(str(item["id"]), {})),
            )
            if ind.domain not in self.domains:
                raise ValueError(f"indicator {ind.id}: unknown domain {ind.domain}")
            if ind.level not in self.levels:
                raise ValueError(f"indicator {ind.id}: unknown level {ind.level}")
            if ind.id in self.indicators:
                raise ValueError(f"duplicate indicator id {ind.id}")
            self.indicators[ind.id] = ind
        self.modifiers: dict[str, Modifier] = {}
        for item in data.get("modifiers") or []:
            applies = item.get("applies_to_levels") or [1, 4]
            self.modifiers[str(item["id"])] = Modifier(
                id=str(item["id"]), label=str(item["label"]), shift=int(item["shift"]),
                min_level=int(applies[0]), max_level=int(applies[-1]),
                flagged_only=bool(item.get("flagged_only", False)),
                age_below=item.get("age_below"),
                cues=_merge(_cues(item.get("cues")), extra.pop(str(item["id"]), {})),
            )
        if extra:
            raise ValueError(f"language_cues for unknown indicators: {sorted(extra)}")
        combine = data.get("multiple_needs") or {}
        self.combine_count = int(combine.get("count", 0))
        self.combine_domains = int(combine.get("domains", 1))

    def languages(self) -> set[str]:
        langs: set[str] = set()
        for ind in self.indicators.values():
            langs.update(ind.cues)
        for mod in self.modifiers.values():
            langs.update(mod.cues)
        return langs

    def cue_rules(self, language: str, *, boundary: bool,
                  gap_exclude: str | None = None) -> list[Rule]:
        """Indicator and modifier cues of one language, as lexicon rules."""
        specs: list[dict[str, Any]] = []
        for ind in self.indicators.values():
            if ind.cues.get(language):
                specs.append({"id": ind.id, "risk": LEVEL_RISK[ind.level], "indicator": ind.id,
                              "patterns": list(ind.cues[language]), "kind": "indicator"})
        for mod in self.modifiers.values():
            if mod.cues.get(language):
                specs.append({"id": mod.id, "risk": "none", "patterns": list(mod.cues[language]),
                              "kind": "modifier"})
        return rules_from_spec(specs, boundary=boundary, gap_exclude=gap_exclude)

    def route(self, level: int) -> str:
        return self.levels[level].route

    def assess(self, indicator_ids: Iterable[str], modifier_ids: Iterable[str] = (),
               ages: Iterable[int] = ()) -> Assessment:
        """Indicative level: the highest indicator level, raised for several additional needs and
        vulnerability modifiers, lowered for protective factors (never from level 4)."""
        found = [self.indicators[i] for i in dict.fromkeys(indicator_ids) if i in self.indicators]
        mods = [self.modifiers[m] for m in dict.fromkeys(modifier_ids) if m in self.modifiers]
        ages = list(ages)
        for mod in self.modifiers.values():
            if mod.age_below is not None and any(a < mod.age_below for a in ages) \
                    and mod not in mods:
                mods.append(mod)
        if not found:
            return Assessment(None, None, (), tuple(m.id for m in mods), ())
        found.sort(key=lambda i: -i.level)
        level = found[0].level
        reasons = [f"{i.label} ({self.domains[i.domain]}, level {i.level})" for i in found]
        additional = [i for i in found if i.level == 2]
        domains = {i.domain for i in additional}
        if (self.combine_count and level == 2 and len(additional) >= self.combine_count
                and len(domains) >= self.combine_domains):
            level = 3
            reasons.append(f"several additional needs together ({len(additional)}): level 3")
        top = [i for i in found if i.level == found[0].level]
        for mod in sorted(mods, key=lambda m: -m.shift):
            if not mod.min_level <= level <= mod.max_level:
                continue
            if mod.flagged_only and not any(mod.id in i.escalates_with for i in top):
                continue
            new = max(1, min(4, level + mod.shift))
            if new != level:
                reasons.append(f"{mod.label}: level {level} -> {new}")
                level = new
        return Assessment(level, self.route(level), tuple(i.id for i in found),
                          tuple(m.id for m in mods), tuple(reasons))


def load_thresholds(profile_dir: Path | None = None) -> Thresholds:
    """Read ``thresholds.yaml`` from the profile folder (default: see default_profile_dir)."""
    path = (profile_dir or default_profile_dir()) / "thresholds.yaml"
    return Thresholds(read_yaml(path))
