"""The result types of the NLU: plain frozen dataclasses, so callers can log, compare and
serialise them without knowing how they were produced."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Risk = Literal["immediate", "urgent", "concern", "none"]
Intent = Literal["self_referral", "professional_query", "advice", "emergency", "other"]

#: Ordered most to least severe; index comparisons use RISK_ORDER.
RISKS: tuple[Risk, ...] = ("none", "concern", "urgent", "immediate")
RISK_ORDER: dict[str, int] = {name: i for i, name in enumerate(RISKS)}
INTENTS: tuple[Intent, ...] = (
    "self_referral",
    "professional_query",
    "advice",
    "emergency",
    "other",
)
ENTITY_KINDS = ("age", "dob", "date", "postcode", "phone", "nhs_number", "school")


def max_risk(*risks: Risk) -> Risk:
    """The most severe of the given risks ("none" for no arguments)."""
    best: Risk = "none"
    for risk in risks:
        if RISK_ORDER[risk] > RISK_ORDER[best]:
            best = risk
    return best


@dataclass(frozen=True)
class Evidence:
    """Why a risk or indicator was raised (or deliberately not raised).

    ``kind`` says how the phrase counted: lexicon/pattern (fired), model (the statistical
    model's view), negated, past, hypothetical, idiom (matched but discounted), escalated
    (raised to immediate because it is happening now), indicator (threshold cue), rasa.
    """

    rule: str
    phrase: str
    language: str
    kind: str

    def to_dict(self) -> dict[str, str]:
        return {"rule": self.rule, "phrase": self.phrase, "language": self.language,
                "kind": self.kind}


@dataclass(frozen=True)
class Entity:
    """A structured fact found in the text; ``value`` is the normalised form."""

    kind: str
    text: str
    value: str | int

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "text": self.text, "value": self.value}


@dataclass(frozen=True)
class Analysis:
    """Everything the engine needs from one free-text turn."""

    language: str
    risk: Risk
    evidence: tuple[Evidence, ...] = ()
    intent: Intent = "other"
    entities: tuple[Entity, ...] = ()
    indicators: tuple[str, ...] = ()
    level: int | None = None
    reasons: tuple[str, ...] = field(default=(), compare=False)

    @property
    def is_alarm(self) -> bool:
        """True when the reply must tell the person to phone (999 or the hub) now."""
        return self.risk in ("immediate", "urgent")

    def to_dict(self) -> dict[str, Any]:
        return {
            "language": self.language,
            "risk": self.risk,
            "evidence": [e.to_dict() for e in self.evidence],
            "intent": self.intent,
            "entities": [e.to_dict() for e in self.entities],
            "indicators": list(self.indicators),
            "level": self.level,
            "reasons": list(self.reasons),
        }
