"""Scoring the NLU against labelled JSONL files (``frontdoor evaluate``).

Each line: ``{"id", "text", "lang"?, "risk", "intent", "level"}``. The headline numbers are
the product's safety bars: recall of immediate+urgent (an alarm raised when one was
needed), false alarms on "none" (an alarm raised for nothing), plus intent macro-F1 and the
level's exact and within-one accuracy.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nlu.types import INTENTS, RISKS, Analysis

ALARM = ("immediate", "urgent")
TARGETS = {
    "alarm_recall": 0.99,
    "alarm_recall_per_language": 0.95,
    "false_alarm_none": 0.05,
    "intent_macro_f1": 0.90,
    "level_exact": 0.85,
}


@dataclass
class Scores:
    """Counts for one group of messages (a language or everything)."""

    n: int = 0
    alarm_gold: int = 0
    alarm_hit: int = 0
    immediate_gold: int = 0
    immediate_hit: int = 0
    none_gold: int = 0
    none_alarm: int = 0
    none_any: int = 0
    level_exact: int = 0
    level_within_one: int = 0
    language_correct: int = 0
    confusion: Counter[tuple[str, str]] = field(default_factory=Counter)
    intents: list[tuple[str, str]] = field(default_factory=list)

    def add(self, gold: dict[str, Any], got: Analysis) -> None:
        self.n += 1
        g_risk = str(gold["risk"])
        self.confusion[(g_risk, got.risk)] += 1
        if g_risk in ALARM:
            self.alarm_gold += 1
            self.alarm_hit += got.risk in ALARM
        if g_risk == "immediate":
            self.immediate_gold += 1
            self.immediate_hit += got.risk == "immediate"
        if g_risk == "none":
            self.none_gold += 1
            self.none_alarm += got.risk in ALARM
            self.none_any += got.risk != "none"
        self.intents.append((str(gold["intent"]), got.intent))
        g_level = gold.get("level")
        self.level_exact += g_level == got.level
        self.level_within_one += abs((g_level or 0) - (got.level or 0)) <= 1
        self.language_correct += gold.get("lang") in (None, got.language)

    @staticmethod
    def _ratio(a: int, b: int) -> float | None:
        return a / b if b else None

    def summary(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "alarm_recall": self._ratio(self.alarm_hit, self.alarm_gold),
            "immediate_recall": self._ratio(self.immediate_hit, self.immediate_gold),
            "false_alarm_none": self._ratio(self.none_alarm, self.none_gold),
            "none_flagged_any": self._ratio(self.none_any, self.none_gold),
            "intent_macro_f1": macro_f1(self.intents),
            "level_exact": self._ratio(self.level_exact, self.n),
            "level_within_one": self._ratio(self.level_within_one, self.n),
            "language_accuracy": self._ratio(self.language_correct, self.n),
        }


def macro_f1(pairs: Sequence[tuple[str, str]]) -> float | None:
    """Macro-averaged F1 over the labels that occur in gold or prediction."""
    if not pairs:
        return None
    labels = sorted({g for g, _ in pairs} | {p for _, p in pairs})
    f1s = []
    for label in labels:
        tp = sum(1 for g, p in pairs if g == label and p == label)
        fp = sum(1 for g, p in pairs if g != label and p == label)
        fn = sum(1 for g, p in pairs if g == label and p != label)
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(f1s) / len(f1s)


@dataclass
class Report:
    overall: Scores
    by_language: dict[str, Scores]
    errors: list[dict[str, Any]]
    invalid: int = 0

    def failures(self) -> list[str]:
        """Targets missed (empty when all are met)."""
        out = []
        s = self.overall.summary()
        if (s["alarm_recall"] or 0) < TARGETS["alarm_recall"]:
            out.append(f"alarm recall {s['alarm_recall']:.3f} < {TARGETS['alarm_recall']}")
        if s["false_alarm_none"] is not None and s["false_alarm_none"] > TARGETS[
                "false_alarm_none"]:
            out.append(f"false alarms on none {s['false_alarm_none']:.3f} > "
                       f"{TARGETS['false_alarm_none']}")
        if (s["intent_macro_f1"] or 0) < TARGETS["intent_macro_f1"]:
            out.append(f"intent macro-F1 {s['intent_macro_f1']:.3f} < "
                       f"{TARGETS['intent_macro_f1']}")
        if (s["level_exact"] or 0) < TARGETS["level_exact"]:
            out.append(f"level exact {s['level_exact']:.3f} < {TARGETS['level_exact']}")
        for lang, scores in sorted(self.by_language.items()):
            recall = scores.summary()["alarm_recall"]
            if recall is not None and recall < TARGETS["alarm_recall_per_language"]:
                out.append(f"{lang}: alarm recall {recall:.3f} < "
                           f"{TARGETS['alarm_recall_per_language']}")
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "overall": self.overall.summary(),
            "by_language": {k: v.summary() for k, v in sorted(self.by_language.items())},
            "confusion": {g: {p: self.overall.confusion[(g, p)] for p in RISKS} for g in RISKS},
            "invalid_lines": self.invalid,
            "failures": self.failures(),
        }


def read_labelled(paths: Iterable[Path]) -> tuple[list[dict[str, Any]], int]:
    """Valid labelled records and the number of lines that were not."""
    records, invalid = [], 0
    for path in paths:
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    invalid += 1
                    continue
                if (not isinstance(rec, dict) or not isinstance(rec.get("text"), str)
                        or rec.get("risk") not in RISKS or rec.get("intent") not in INTENTS):
                    invalid += 1
                    continue
                records.append(rec)
    return records, invalid


def evaluate(records: Iterable[dict[str, Any]],
             analyse: Callable[[str, str | None], Analysis], *, use_hint: bool = True,
             invalid: int = 0) -> Report:
    overall = Scores()
    by_language: dict[str, Scores] = defaultdict(Scores)
    errors = []
    for rec in records:
        got = analyse(rec["text"], rec.get("lang") if use_hint else None)
        overall.add(rec, got)
        by_language[str(rec.get("lang") or got.language)].add(rec, got)
        if (got.risk != rec["risk"] or got.intent != rec["intent"]
                or got.level != rec.get("level")):
            errors.append({"id": rec.get("id"), "text": rec["text"],
                           "gold": [rec["risk"], rec["intent"], rec.get("level")],
                           "got": [got.risk, got.intent, got.level],
                           "evidence": [e.to_dict() for e in got.evidence]})
    return Report(overall, dict(by_language), errors, invalid)


def _fmt(value: float | None) -> str:
    return "   -  " if value is None else f"{value:6.3f}"


def format_report(report: Report) -> str:
    cols = ["alarm_recall", "immediate_recall", "false_alarm_none", "none_flagged_any",
            "intent_macro_f1", "level_exact", "level_within_one", "language_accuracy"]
    short = ["alarmR", "immR", "FA_none", "none>0", "intF1", "lvlEx", "lvl±1", "langAcc"]
    lines = ["lang      n  " + " ".join(f"{s:>7}" for s in short)]
    rows = [*sorted(report.by_language.items()), ("ALL", report.overall)]
    for lang, scores in rows:
        s = scores.summary()
        lines.append(f"{lang:5} {s['n']:5}  " + " ".join(f"{_fmt(s[c]):>7}" for c in cols))
    lines.append("")
    lines.append("risk confusion (rows gold, columns predicted):")
    lines.append("            " + " ".join(f"{p:>10}" for p in RISKS))
    for g in RISKS:
        lines.append(f"{g:>10}  " + " ".join(
            f"{report.overall.confusion[(g, p)]:>10}" for p in RISKS))
    if report.invalid:
        lines.append(f"\n{report.invalid} invalid line(s) skipped")
    failures = report.failures()
    lines.append("")
    lines.append("targets: all met" if not failures else "targets missed:\n  - "
                 + "\n  - ".join(failures))
    return "\n".join(lines)
