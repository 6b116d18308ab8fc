"""What the person wants: self-referral, a professional's question, advice, an emergency or
something else. The model proposes; a few unambiguous signals decide over it (danger now is
always an emergency; a professional saying who they are is a professional query)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from nlu.types import Intent, Risk

T_OTHER_GREETING = 0.35


@dataclass(frozen=True)
class Signals:
    """Lexicon cues found in the message (any candidate language)."""

    professional: bool = False
    advice: bool = False
    self_referral: bool = False
    greeting: bool = False
    family: bool = False
    own_family: bool = False


def decide(risk: Risk, probs: Mapping[str, float], signals: Signals,
           hypothetical: bool = False) -> Intent:
    if risk == "immediate":
        return "emergency"
    if hypothetical and risk == "none" and not signals.professional:
        return "advice"  # "what happens if a teacher sees a parent hit a child?"
    ranked = sorted(probs.items(), key=lambda kv: kv[1], reverse=True)
    ranked = [(k, p) for k, p in ranked if k != "emergency"]
    best = ranked[0][0] if ranked else "other"
    if signals.professional:
        return "professional_query"
    if risk == "urgent" and best in ("other", "advice"):
        # A disclosure is a request for help even when phrased as a question.
        return "self_referral"
    if best == "other" and not signals.greeting and (signals.family or risk != "none"):
        return ranked[1][0] if len(ranked) > 1 else "self_referral"  # type: ignore[return-value]
    return best  # type: ignore[return-value]
