"""Turn a contact's handover JSON into labelled blocks an officer can read at once.

The engine owns the handover's content; this renders it generically (every `sections` entry
with its questions and answers, then the known keys, then anything else) so a new question
or journey shows up without a console change. Values become plain strings here; the
templates escape them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from babel import Locale
from babel.core import UnknownLocaleError

from profiles import Profile
from storage.models import ConsentRecord, Contact

KNOWN = ("risk", "contact_safety", "callback", "sections", "children", "household",
         "address", "consent")
# Shown elsewhere (the summary, the decision panel) or only for machines.
HIDDEN = ("journey", "journey_version", "schema", "source", "language", "triage")
SAFETY_KEYS = ("safe_to_contact", "safe_to_call", "safe_here", "voicemail", "sms")
TITLES = {
    "risk": "Risk",
    "contact_safety": "Is it safe to contact them?",
    "callback": "Call back",
    "children": "Children",
    "household": "Household and family",
    "address": "Address",
    "consent": "Consent (as given in the conversation)",
}
LABELS = {
    "nhs_number": "NHS number",
    "upn": "UPN",
    "dob": "Date of birth",
    "date_of_birth": "Date of birth",
    "phone": "Phone number",
    "postcode": "Postcode",
    "parental_responsibility": "Has parental responsibility",
    "interpreter_needed": "Interpreter needed",
    "safe_to_call": "Safe to call",
    "safe_to_contact": "Safe to contact",
    "safe_here": "Safe to message here",
    "safe_other": "Other safe way to reach them",
    "best_time": "Best time",
    "callback_offer": "Call back wanted",
    "callback_phone": "Call back number",
    "callback_safe": "Safe to call back",
    "callback_when": "When to call",
    "locality_name": "Locality",
    "in_borough": "Lives in the borough",
    "other_council": "Other council",
    "no_consent_reason": "Why consent was not obtained",
    "no_consent_explanation": "Explanation",
    "sharing_limits": "What may not be shared, with whom",
    "central_storage": "Central storage agreed",
    "referral_consent": "Consent to the referral",
    "young_person_age": "Young person's age",
}
MAX_DEPTH = 4


@dataclass
class Row:
    label: str
    value: str


@dataclass
class Block:
    id: str
    title: str
    rows: list[Row] = field(default_factory=list)
    items: list[tuple[str, list[Row]]] = field(default_factory=list)
    warning: bool = False


def humanise(key: str) -> str:
    if key in LABELS:
        return LABELS[key]
    text = str(key).replace("_", " ").replace("-", " ").strip()
    return text[:1].upper() + text[1:] if text else "(no label)"


def scalar(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, datetime):
        return value.isoformat(timespec="minutes")
    return str(value)


def rows_of(value: Any, label: str = "", depth: int = 0) -> list[Row]:
    """Flatten nested data into label/value rows ("Address › Postcode")."""
    if depth > MAX_DEPTH:
        return [Row(label or "Value", scalar(str(value)[:500]))]
    if isinstance(value, dict):
        out: list[Row] = []
        for key, inner in value.items():
            name = humanise(str(key))
            out.extend(rows_of(inner, f"{label} › {name}" if label else name, depth + 1))
        return out or [Row(label or "Value", "—")]
    if isinstance(value, list):
        if all(not isinstance(v, dict | list) for v in value):
            return [Row(label or "Value", ", ".join(scalar(v) for v in value) or "—")]
        out = []
        for index, inner in enumerate(value, start=1):
            out.extend(rows_of(inner, f"{label} {index}" if label else f"Item {index}",
                               depth + 1))
        return out
    return [Row(label or "Value", scalar(value))]


def _item_title(prefix: str, index: int, item: Any) -> str:
    if isinstance(item, dict):
        for key in ("name", "full_name", "first_name", "relationship"):
            if item.get(key):
                return f"{prefix} {index}: {scalar(item[key])}"
    return f"{prefix} {index}"


def _list_block(key: str, value: Any, prefix: str) -> Block:
    block = Block(key, TITLES.get(key, humanise(key)))
    if isinstance(value, list):
        for index, item in enumerate(value, start=1):
            block.items.append((_item_title(prefix, index, item), rows_of(item)))
    else:
        block.rows = rows_of(value)
    return block


def _sections(value: Any) -> list[Block]:
    blocks: list[Block] = []
    if not isinstance(value, list):
        return [Block("sections", "Answers", rows=rows_of(value))]
    for index, section in enumerate(value, start=1):
        if not isinstance(section, dict):
            blocks.append(Block(f"section-{index}", f"Section {index}", rows=rows_of(section)))
            continue
        block = Block(
            f"section-{index}",
            scalar(section.get("title") or humanise(str(section.get("id", f"Section {index}")))),
        )
        for answer in section.get("answers") or []:
            if isinstance(answer, dict) and "question" in answer:
                block.rows.extend(rows_of(answer.get("answer"), scalar(answer["question"])))
            else:
                block.rows.extend(rows_of(answer))
        extra = {k: v for k, v in section.items() if k not in ("id", "title", "answers")}
        block.rows.extend(rows_of(extra) if extra else [])
        blocks.append(block)
    return blocks


def _risk(value: Any, contact: Contact) -> Block:
    block = Block("risk", TITLES["risk"], warning=contact.urgency in ("immediate", "urgent"))
    level = value.get("level") if isinstance(value, dict) else None
    block.rows.append(Row("Risk level", scalar(level or contact.urgency)))
    data = value if isinstance(value, dict) else {}
    evidence = data.get("evidence")
    events = data.get("events")
    if isinstance(events, list) and events:
        for index, item in enumerate(events, start=1):
            block.items.append((f"Risk event {index}", rows_of(item)))
    for index, item in enumerate(evidence or contact.risk_evidence or [], start=1):
        block.items.append((f"Evidence {index}", rows_of(item)))
    extra = {k: v for k, v in data.items() if k not in ("level", "evidence", "events")}
    block.rows.extend(rows_of(extra) if extra else [])
    return block


def _no(value: Any) -> bool:
    return value is False or (isinstance(value, str) and value.strip().lower() == "no")


def unsafe_to_contact(handover: Any) -> bool:
    """The person said some way of contacting them is not safe: warn before any reply."""
    safety = handover.get("contact_safety") if isinstance(handover, dict) else None
    return isinstance(safety, dict) and any(_no(safety.get(key)) for key in SAFETY_KEYS)


def consent_block(records: list[ConsentRecord]) -> Block | None:
    if not records:
        return None
    block = Block("consent-records", "Consent records")
    for index, rec in enumerate(records, start=1):
        rows = [
            Row("Given by", humanise(rec.given_by)),
            Row(LABELS["referral_consent"], humanise(rec.referral_consent)),
        ]
        if rec.no_consent_reason or rec.no_consent_explanation:
            rows.append(Row(LABELS["no_consent_reason"], humanise(rec.no_consent_reason or "")))
            rows.append(Row(LABELS["no_consent_explanation"],
                            scalar(rec.no_consent_explanation)))
        rows.append(Row("Information sharing", humanise(rec.sharing)))
        if rec.sharing_limits:
            rows.append(Row(LABELS["sharing_limits"], rec.sharing_limits))
        rows.append(Row(LABELS["central_storage"], scalar(rec.central_storage)))
        rows.append(Row("Verbal", scalar(rec.verbal)))
        if rec.young_person_age is not None:
            rows.append(Row(LABELS["young_person_age"], str(rec.young_person_age)))
        rows.append(Row("Recorded", rec.recorded_at.isoformat(timespec="minutes")))
        if rec.withdrawn_at:
            rows.append(Row("WITHDRAWN", rec.withdrawn_at.isoformat(timespec="minutes")))
        block.items.append((f"Consent {index}", rows))
    block.warning = any(rec.withdrawn_at for rec in records)
    return block


def language_name(code: str) -> str:
    try:
        return f"{Locale.parse(code).get_display_name('en')} ({code})"
    except (UnknownLocaleError, ValueError, TypeError):
        return code


def summary(contact: Contact, profile: Profile) -> list[Row]:
    locality = profile.locality(contact.locality) if contact.locality else None
    suggested = (
        profile.category_label(contact.suggested_category) or contact.suggested_category
        if contact.suggested_category
        else None
    )
    return [
        Row("Reference", contact.reference),
        Row("Urgency", contact.urgency),
        Row("RAG", contact.rag or "not rated"),
        Row("Who made contact", humanise(contact.source)),
        Row("Journey", humanise(contact.journey)),
        Row("Channel", contact.channel),
        Row("Language", language_name(contact.language)),
        Row("Interpreter needed", scalar(contact.interpreter_needed)),
        Row("Locality", f"{locality.name} ({locality.team})" if locality else
            scalar(contact.locality)),
        Row("Suggested category", scalar(suggested)),
        Row("Complete", "Yes" if contact.complete else
            "No — the person may still be answering"),
    ]


def build(contact: Contact, consents: list[ConsentRecord]) -> list[Block]:
    """Blocks in reading order: risk and safety first, then what the person told us."""
    data = contact.handover if isinstance(contact.handover, dict) else {}
    blocks = [_risk(data.get("risk") or {}, contact)]
    for key in ("contact_safety", "callback"):
        if key in data:
            block = Block(key, TITLES[key], rows=rows_of(data[key]))
            block.warning = key == "contact_safety" and unsafe_to_contact(data)
            blocks.append(block)
    if "sections" in data:
        blocks.extend(_sections(data["sections"]))
    if "children" in data:
        blocks.append(_list_block("children", data["children"], "Child"))
    if "household" in data:
        blocks.append(_list_block("household", data["household"], "Person"))
    for key in ("address", "consent"):
        if key in data:
            blocks.append(Block(key, TITLES[key], rows=rows_of(data[key])))
    records = consent_block(consents)
    if records:
        blocks.append(records)
    for key, value in data.items():
        if key not in KNOWN and key not in HIDDEN:
            blocks.append(Block(f"other-{key}", humanise(key), rows=rows_of(value)))
    return blocks
