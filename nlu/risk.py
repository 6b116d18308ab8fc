"""Deciding the risk level from lexicon hits and the model, conservatively.

Rules are the primary, explainable signal. The model can raise the level (it catches
phrasings the rules miss) but never lower what a rule found; where every rule hit was
discounted by its context (negated, idiom, hypothetical, past) the model adds nothing, so a
discounted phrase cannot come back as an alarm through the back door. The model's
thresholds are deliberately high: it adds recall where rules are silent, not noise.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from nlu.lexicon import Hit
from nlu.types import RISK_ORDER, Evidence, Risk, max_risk

# Model thresholds (probabilities). Deliberately high: the model speaks only when it is sure,
# because the rules already carry recall and the model is trained on a few hundred phrasings
# per language. Model-only "concern" needs 0.95: on new everyday messages ("the baby won't
# sleep", "my baby has a cold") lower values raised a third of them to a concern, with no
# gain on the development set.
T_IMMEDIATE = 0.60
T_URGENT = 0.70
T_CONCERN = 0.95
MIN_MODEL_TOKENS = 3  # "hiya" says too little for the model to raise anything
T_BOOST_IMMEDIATE = 0.50
T_URGENT_OVER_CONCERN = 0.85
YOUNG_CHILD_AGE = 12


@dataclass(frozen=True)
class RiskResult:
    risk: Risk
    evidence: tuple[Evidence, ...]
    indicators: tuple[str, ...]
    modifiers: tuple[str, ...]
    discounted_only: bool


def _hit_risk(hit: Hit, ages: Sequence[int]) -> tuple[Risk, str, str | None]:
    """(risk, evidence kind, indicator) for one hit."""
    rule = hit.rule
    if hit.status in ("negated", "idiom"):
        return "none", hit.status, None
    if hit.status == "hypothetical":
        # "what should I do if my partner hits me" is someone's life; "is it OK to leave my
        # 15 year old home alone?" is a parenting question.
        personal = hit.personal and rule.risk != "none" and not rule.young_child_only
        risk: Risk = "concern" if personal else "none"
        return risk, "hypothetical", None
    if hit.status == "past":
        risk = "concern" if RISK_ORDER[rule.risk] >= RISK_ORDER["concern"] else "none"
        indicator = rule.past_indicator or (rule.indicator if rule.risk == "concern" else None)
        return risk, "past", indicator
    risk = rule.risk
    kind = rule.kind
    if rule.young_child_only and ages and min(ages) >= YOUNG_CHILD_AGE:
        risk = "concern"
    elif rule.escalate_now and hit.now and risk in ("concern", "urgent"):
        risk = "immediate"
        kind = "escalated"
    elif rule.escalate_young and ages and min(ages) < YOUNG_CHILD_AGE and risk == "urgent":
        risk = "immediate"  # e.g. a missing six-year-old is an emergency, a 15-year-old not yet
        kind = "escalated"
    return risk, kind, rule.indicator


def model_risk(probs: Mapping[str, float]) -> Risk:
    if probs.get("immediate", 0.0) >= T_IMMEDIATE:
        return "immediate"
    if probs.get("immediate", 0.0) + probs.get("urgent", 0.0) >= T_URGENT:
        return "urgent"
    if 1.0 - probs.get("none", 0.0) >= T_CONCERN:
        return "concern"
    return "none"


def assess(hits: Iterable[Hit], phrases: Mapping[tuple[int, int], str],
           probs: Mapping[str, float] | None, language: str,
           ages: Sequence[int] = (), n_tokens: int = 10, question: bool = False
           ) -> RiskResult:
    """Combine rule hits (with their original phrases) and model probabilities."""
    evidence: list[Evidence] = []
    seen: set[tuple[str, str, str]] = set()
    indicators: list[str] = []
    modifiers: list[str] = []
    rule_risk: Risk = "none"
    active = discounted = False
    for hit in hits:
        if hit.rule.age_below is not None and not any(a < hit.rule.age_below for a in ages):
            continue  # e.g. "pregnant" counts as a child's pregnancy only with a child's age
        phrase = phrases[(hit.start, hit.end)]
        if hit.rule.kind == "modifier":
            if hit.status == "active" and hit.rule.id not in modifiers:
                modifiers.append(hit.rule.id)
            continue
        risk, kind, indicator = _hit_risk(hit, ages)
        rule_risk = max_risk(rule_risk, risk)
        if kind in ("negated", "idiom", "hypothetical", "past"):
            discounted = True
        else:
            active = True
        if indicator and indicator not in indicators:
            indicators.append(indicator)
        key = (hit.rule.id, phrase.lower(), kind)
        if key not in seen:
            seen.add(key)
            evidence.append(Evidence(hit.rule.id, phrase, hit.language, kind))
    risk = rule_risk
    if probs is not None and n_tokens >= MIN_MODEL_TOKENS:
        from_model = model_risk(probs)
        if discounted and not active:
            # The rules saw the phrase and judged it negated, hypothetical, an idiom or
            # past: the model (which cannot see that context) must not overrule them.
            from_model = "none"
        alarm = probs.get("immediate", 0.0) + probs.get("urgent", 0.0)
        if rule_risk == "concern" and RISK_ORDER[from_model] > RISK_ORDER["concern"]:
            # The rules recognised a welfare need; it takes a very sure model to call it
            # child protection, and never an emergency ("my 2 year old is not walking yet").
            from_model = "urgent" if alarm >= T_URGENT_OVER_CONCERN else "concern"
        if question and not active and RISK_ORDER[from_model] > RISK_ORDER["concern"]:
            from_model = "concern"  # a question with no risk phrase: "can a 13 year old babysit?"
        if rule_risk == "urgent" and active and probs.get("immediate", 0.0) >= T_BOOST_IMMEDIATE:
            from_model = "immediate"
        if RISK_ORDER[from_model] > RISK_ORDER[risk]:
            best = max(probs, key=probs.__getitem__)
            evidence.append(Evidence(f"model:{from_model}", f"p({best})={probs[best]:.2f}",
                                     language, "model"))
            risk = from_model
    return RiskResult(risk, tuple(evidence), tuple(indicators), tuple(modifiers),
                      discounted and not active)
