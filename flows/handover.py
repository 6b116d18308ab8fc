"""The structured handover an officer reads instead of a transcript, and the consent record.

Its shape is documented in storage/handover.schema.json. Questions and choices are in English
for the officer; free text stays in the person's own words and language.
"""

from __future__ import annotations

from typing import Any

from flows.journey import Journey, lookup
from flows.render import item_line, show_answer
from profiles import Profile


def build_handover(
    profile: Profile,
    journey: Journey,
    answers: dict[str, Any],
    meta: dict[str, Any],
    *,
    risk: dict[str, Any],
    guidance: dict[str, Any] | None = None,
) -> dict[str, Any]:
    sections: dict[str, dict[str, Any]] = {}
    children: list[dict[str, Any]] = []
    household: list[dict[str, Any]] = []
    for step_id in journey.path(answers, meta):
        step = journey.by_id[step_id]
        if step_id not in answers or not step.summary:
            continue
        section = sections.setdefault(
            step.section,
            {"id": step.section, "title": journey.section_title(step.section), "answers": []},
        )
        if step.type == "loop":
            items = [
                {s.id: show_answer(s, item[s.id]) for s in step.steps if s.id in item}
                for item in answers.get(step_id) or []
            ]
            (children if step_id == "children" else household).extend(items)
            for n, item in enumerate(answers.get(step_id) or [], start=1):
                section["answers"].append(
                    {"question": f"{step.summary} {n}", "answer": item_line(step, item)}
                )
            continue
        section["answers"].append(
            {"question": step.summary, "answer": show_answer(step, answers[step_id]),
             "step": step_id}
        )
    where = {"line": "address", "postcode": "postcode", **journey.options.get("address", {})}
    route = lookup(answers, meta, where["postcode"])
    route = route if isinstance(route, dict) else None
    locality_id = route.get("locality") if isinstance(route, dict) else None
    locality = profile.locality(locality_id) if locality_id else None
    return {
        "schema": "frontdoor.handover/1",
        "journey": journey.id,
        "journey_version": journey.version,
        "source": journey.options.get("source") or lookup(answers, meta, "who"),
        "language": meta.get("language", "en"),
        "sections": list(sections.values()),
        "children": children,
        "household": household,
        "address": {
            "line": _text(answers.get(where["line"])),
            "postcode": route.get("postcode") if isinstance(route, dict) else None,
            "locality": locality_id,
            "locality_name": locality.name if locality else None,
            "in_borough": route.get("in_borough") if isinstance(route, dict) else None,
            "other_council": route.get("council") if isinstance(route, dict) else None,
        },
        "consent": consent_fields(profile, answers, meta, journey.options.get("consent")),
        "contact_safety": {
            key: lookup(answers, meta, key)
            for key in ("safe_to_call", "phone", "voicemail", "sms", "best_time", "safe_here",
                        "safe_other")
            if key in answers
        },
        "callback": {
            key: lookup(answers, meta, key)
            for key in ("callback_offer", "callback_phone", "callback_safe", "callback_when")
            if key in answers
        },
        "risk": risk,
        **({"guidance": guidance} if guidance else {}),
        **({"referrer": {key: lookup(answers, meta, step) for key, step in
                         journey.options["referrer"].items() if step in answers}}
           if journey.options.get("referrer") else {}),
    }


def _text(record: Any) -> str | None:
    if isinstance(record, dict):
        return record.get("text") or record.get("choice")
    return None


def consent_fields(
    profile: Profile, answers: dict[str, Any], meta: dict[str, Any],
    mapping: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The consent record, following the EHA form's rules (seed 001).

    `mapping` (the journey's `consent:` block) names the steps holding each answer, so a
    professional referral and a family's self-referral share these rules.
    """
    keys = {"given_by": "who", "referral": "consent", "reason": None, "explanation": None,
            "sharing": "sharing", "sharing_limits": "sharing_limits", "storage": "storage",
            **(mapping or {})}
    fixed_given_by = keys.get("given_by_value")
    who = fixed_given_by or lookup(answers, meta, keys["given_by"]) or "parent_carer"
    answer = lookup(answers, meta, keys["referral"])
    age = lookup(answers, meta, "yp_age") if who == "young_person" else None
    young_min = int(profile.raw.get("young_person_consent_min_age", 12))
    reason: str | None = lookup(answers, meta, keys["reason"]) if keys["reason"] else None
    explanation = _text(answers.get(keys["explanation"])) if keys["explanation"] else ""
    explanation = explanation or ""
    if answer == "yes":
        referral, reason = "yes", None
        if who == "young_person" and isinstance(age, int) and age < young_min:
            # Under 12: parental consent is needed before an assessment starts.
            referral, reason = "no", "parental_consent_needed_under_12"
            explanation = "The child agreed that the hub may talk to their parent or carer."
        elif who == "relative_friend":
            explanation = "The relative or friend says the parents know and agree."
    elif answer == "unsafe":
        referral, reason = "not_needed", "significant_harm_risk"
        explanation = ("Informing the parents could put the child or family at risk of "
                       "significant harm.")
    elif answer == "no" and reason in profile.raw.get("consent_exceptions", []):
        referral = "not_needed"  # the seed's exceptions: significant harm; attendance / CME
    else:
        referral = "no" if answer == "no" else "not_given"
    sharing = lookup(answers, meta, keys["sharing"]) or "no"
    return {
        "given_by": who,
        "referral_consent": referral,
        "no_consent_reason": reason,
        "no_consent_explanation": explanation,
        "sharing": sharing,
        "sharing_limits": _text(answers.get(keys["sharing_limits"])) or "",
        "central_storage": lookup(answers, meta, keys["storage"]) == "yes",
        "verbal": True,
        "young_person_age": age if isinstance(age, int) else None,
    }
