"""The OpenAPI 3.1 document for /api, kept next to the handlers it describes.

The handover schema is storage/handover.schema.json (JSON Schema 2020-12), embedded as
components so the document stands alone; tests run schemathesis against it.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

from profiles import Profile
from triage.api import FILTERS, STATUSES, URGENCIES
from triage.outcome import RAGS
from triage.reply_templates import BY_OUTCOME
from triage.tokens import SCOPES

HANDOVER_SCHEMA = Path(__file__).resolve().parent.parent / "storage" / "handover.schema.json"


@cache
def handover_schema() -> dict[str, Any]:
    with HANDOVER_SCHEMA.open(encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


def _embedded_handover() -> dict[str, dict[str, Any]]:
    """The handover schema as OpenAPI components, its $defs renamed Handover.<name>."""
    raw = json.loads(json.dumps(handover_schema()).replace('"#/$defs/',
                                                           '"#/components/schemas/Handover.'))
    defs = raw.pop("$defs", {})
    raw.pop("$schema", None)
    raw.pop("$id", None)
    out = {"Handover": raw}
    out.update({f"Handover.{name}": schema for name, schema in defs.items()})
    return out


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _error(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": _ref("Error")}}}


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


NULLABLE_STR = {"type": ["string", "null"]}
NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}

SUMMARY: dict[str, Any] = {
    "type": "object",
    "required": ["reference", "status", "urgency", "language", "created_at", "sla"],
    "properties": {
        "reference": {"type": "string", "examples": ["SFH-2B4C6D"]},
        "status": {"enum": list(STATUSES)},
        "complete": {"type": "boolean",
                     "description": "False while the person may still be answering."},
        "urgency": {"enum": list(URGENCIES)},
        "rag": {"enum": [*RAGS, None]},
        "category": NULLABLE_STR,
        "suggested_category": NULLABLE_STR,
        "outcome": NULLABLE_STR,
        "locality": NULLABLE_STR,
        "language": {"type": "string"},
        "interpreter_needed": {"type": "boolean"},
        "source": {"type": "string"},
        "journey": {"type": "string"},
        "channel": {"type": "string"},
        "created_at": {"type": "string", "format": "date-time"},
        "submitted_at": NULLABLE_TIME,
        "claimed_by": NULLABLE_STR,
        "claim_expires_at": NULLABLE_TIME,
        "closed_at": NULLABLE_TIME,
        "safeguarding_hold": {
            "type": "boolean",
            "description": "Kept for safeguarding (set and lifted in the console only): "
                           "erasure and retention do not remove it."},
        "sla": {
            "type": "object",
            "required": ["band", "due_at", "breached"],
            "properties": {
                "band": {"enum": ["red", "amber", "green"]},
                "due_at": {"type": "string", "format": "date-time"},
                "breached": {"type": "boolean"},
            },
        },
    },
}

CONSENT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "given_by": {"type": "string"},
        "referral_consent": {"type": "string"},
        "no_consent_reason": NULLABLE_STR,
        "no_consent_explanation": {"type": "string"},
        "sharing": {"type": "string"},
        "sharing_limits": {"type": "string"},
        "central_storage": {"type": "boolean"},
        "verbal": {"type": "boolean"},
        "young_person_age": {"type": ["integer", "null"]},
        "recorded_at": {"type": "string", "format": "date-time"},
        "withdrawn_at": NULLABLE_TIME,
    },
}

REFERENCE_PARAM = {
    "name": "reference", "in": "path", "required": True,
    "schema": {"type": "string", "minLength": 1, "maxLength": 40},
    "description": "The contact reference the referrer was given, e.g. SFH-2B4C6D.",
}


def _list_parameters() -> list[dict[str, Any]]:
    enums = {"status": STATUSES, "urgency": URGENCIES, "rag": RAGS}
    params: list[dict[str, Any]] = []
    for name in FILTERS:
        schema: dict[str, Any] = {"type": "string"}
        if name in enums:
            schema = {"enum": list(enums[name])}
        params.append({"name": name, "in": "query", "required": False, "schema": schema,
                       "description": f"Only contacts whose {name} is exactly this."})
    params += [
        {"name": "since", "in": "query", "required": False,
         "schema": {"type": "string", "format": "date-time"},
         "description": "Contacts that arrived at or after this time."},
        {"name": "until", "in": "query", "required": False,
         "schema": {"type": "string", "format": "date-time"},
         "description": "Contacts that arrived before this time."},
        {"name": "limit", "in": "query", "required": False,
         "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}},
        {"name": "offset", "in": "query", "required": False,
         "schema": {"type": "integer", "minimum": 0, "maximum": 1000000, "default": 0}},
    ]
    return params


def _secured(scope: str) -> list[dict[str, list[str]]]:
    return [{"bearer": [scope]}]


AUTH_ERRORS = {
    "401": _error("No token, or an unknown, revoked or expired one."),
    "403": _error("The token lacks the scope this operation needs."),
}


def _document(profile: Profile) -> dict[str, Any]:
    categories = [c.id for c in profile.categories]
    outcomes = [o.id for o in profile.outcomes]
    contact_ops = {**AUTH_ERRORS, "404": _error("No contact has this reference.")}
    write_errors = {**contact_ops, "409": _error(
        "The contact is closed, withdrawn, or held by someone else (the message says who "
        "and until when).")}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Front Door triage API",
            "version": "1.0.0",
            "description": (
                "Case-management integration for the hub's triage queue. Authenticate with "
                "`Authorization: Bearer <token>`; tokens are created by an admin in the "
                "console and carry scopes. Every read of a contact is audited. Queue order "
                "is urgency (immediate, urgent, then RAG red, amber, green, then unrated), "
                "then age."
            ),
        },
        "servers": [{"url": "/"}],
        "paths": {
            "/api/contacts": {"get": {
                "operationId": "listContacts",
                "summary": "List and filter contacts, in queue order",
                "security": _secured("contacts:read"),
                "parameters": _list_parameters(),
                "responses": {
                    "200": _json("A page of contacts.", _ref("ContactList")),
                    "400": _error("A filter or paging value is not valid."),
                    **AUTH_ERRORS,
                },
            }},
            "/api/contacts/take-next": {"post": {
                "operationId": "takeNext",
                "summary": "Claim the next contact in the queue (atomic)",
                "security": _secured("contacts:write"),
                "responses": {
                    "200": _json("The contact now held by this token.", _ref("Contact")),
                    "204": {"description": "The queue is empty."},
                    **AUTH_ERRORS,
                },
            }},
            "/api/contacts/{reference}": {"get": {
                "operationId": "getContact",
                "summary": "Read one contact with its structured handover (audited)",
                "security": _secured("contacts:read"),
                "parameters": [REFERENCE_PARAM],
                "responses": {"200": _json("The contact.", _ref("Contact")), **contact_ops},
            }},
            "/api/contacts/{reference}/claim": {"post": {
                "operationId": "claimContact",
                "summary": "Claim a named contact, or extend this token's claim",
                "security": _secured("contacts:write"),
                "parameters": [REFERENCE_PARAM],
                "responses": {"200": _json("Claimed.", _ref("ContactSummary")),
                              **write_errors},
            }},
            "/api/contacts/{reference}/release": {"post": {
                "operationId": "releaseContact",
                "summary": "Put a contact this token holds back in the queue",
                "security": _secured("contacts:write"),
                "parameters": [REFERENCE_PARAM],
                "responses": {"200": _json("Released.", _ref("ContactSummary")),
                              **write_errors},
            }},
            "/api/contacts/{reference}/outcome": {"post": {
                "operationId": "recordOutcome",
                "summary": "Record category, RAG, outcome and notes; optionally close",
                "security": _secured("contacts:write"),
                "parameters": [REFERENCE_PARAM],
                "requestBody": {"required": True, "content": {
                    "application/json": {"schema": _ref("Decision")}}},
                "responses": {
                    "200": _json("Recorded.", _ref("ContactSummary")),
                    "400": _error("The body is not valid (unknown category or outcome, "
                                  "closing without category, RAG and outcome...)."),
                    **write_errors,
                },
            }},
            "/api/contacts/{reference}/reply": {"post": {
                "operationId": "replyToReferrer",
                "summary": "Send a reply to the referrer through the channel they used",
                "security": _secured("contacts:write"),
                "parameters": [REFERENCE_PARAM],
                "requestBody": {"required": True, "content": {
                    "application/json": {"schema": _ref("ReplyRequest")}}},
                "responses": {
                    "202": _json("Queued in the outbox.", _ref("ReplyQueued")),
                    "400": _error("Neither text nor template, an unknown template, or no "
                                  "chat to reply to."),
                    **write_errors,
                },
            }},
            "/api/figures": {"get": {
                "operationId": "getFigures",
                "summary": "Contacts by source, category, locality, outcome and language, "
                           "and time to triage",
                "security": _secured("figures:read"),
                "parameters": [
                    {"name": "from", "in": "query", "required": False,
                     "schema": {"type": "string", "format": "date"},
                     "description": "First local day (default: 29 days before `to`)."},
                    {"name": "to", "in": "query", "required": False,
                     "schema": {"type": "string", "format": "date"},
                     "description": "Last local day (default: today)."},
                ],
                "responses": {
                    "200": _json("The figures.", _ref("Figures")),
                    "400": _error("A date is not valid, or from is after to."),
                    **AUTH_ERRORS,
                },
            }},
            "/api/openapi.json": {"get": {
                "operationId": "openapi", "summary": "This document", "security": [],
                "responses": {"200": _json("OpenAPI 3.1", {"type": "object"})},
            }},
            "/api/handover.schema.json": {"get": {
                "operationId": "handoverSchema", "summary": "The handover JSON Schema",
                "security": [],
                "responses": {"200": _json("JSON Schema 2020-12", {"type": "object"})},
            }},
        },
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "Scopes: " + "; ".join(
                               f"{k}: {v}" for k, v in SCOPES.items())},
            },
            "schemas": {
                "Error": {"type": "object", "required": ["error"],
                          "properties": {"error": {"type": "string"}}},
                "ContactSummary": SUMMARY,
                "Contact": {"allOf": [_ref("ContactSummary"), {
                    "type": "object",
                    "required": ["handover", "risk_evidence", "notes", "consents"],
                    "properties": {
                        "handover": _ref("Handover"),
                        "risk_evidence": {"type": "array"},
                        "notes": {"type": "string"},
                        "consents": {"type": "array", "items": CONSENT},
                    },
                }]},
                "ContactList": {
                    "type": "object", "required": ["contacts", "limit", "offset"],
                    "properties": {
                        "contacts": {"type": "array", "items": _ref("ContactSummary")},
                        "limit": {"type": "integer"},
                        "offset": {"type": "integer"},
                    },
                },
                "Decision": {
                    "type": "object",
                    "properties": {
                        "category": {"enum": [*categories, None],
                                     "description": "Category id from the profile."},
                        "rag": {"enum": [*RAGS, None]},
                        "outcome": {"enum": [*outcomes, None],
                                    "description": "Outcome id from the profile."},
                        "notes": {"type": ["string", "null"], "maxLength": 20000},
                        "close": {"type": "boolean", "default": False},
                    },
                },
                "ReplyRequest": {
                    "type": "object",
                    "properties": {
                        "template": {"enum": [*BY_OUTCOME, None],
                                     "description": "An outcome id whose template to send."},
                        "text": {"type": ["string", "null"], "maxLength": 2000},
                    },
                },
                "ReplyQueued": {
                    "type": "object", "required": ["outbox_id", "channel"],
                    "properties": {"outbox_id": {"type": "integer"},
                                   "channel": {"type": "string"}},
                },
                "Figures": {
                    "type": "object",
                    "required": ["from", "to", "total", "by", "time_to_triage"],
                    "properties": {
                        "from": {"type": "string", "format": "date"},
                        "to": {"type": "string", "format": "date"},
                        "total": {"type": "integer"},
                        "by": {"type": "object", "additionalProperties": {
                            "type": "array", "items": {
                                "type": "object",
                                "properties": {"key": {"type": "string"},
                                               "label": {"type": "string"},
                                               "count": {"type": "integer"}}}}},
                        "time_to_triage": {"type": "array", "items": {
                            "type": "object",
                            "properties": {
                                "band": {"type": "string"},
                                "closed": {"type": "integer"},
                                "median_minutes": {"type": ["number", "null"]},
                                "p90_minutes": {"type": ["number", "null"]},
                                "within_sla": {"type": "integer"}}}},
                    },
                },
                **_embedded_handover(),
            },
        },
    }


_CACHE: dict[str, dict[str, Any]] = {}


def document(profile: Profile) -> dict[str, Any]:
    """The document for this deployment: category and outcome ids come from its profile."""
    if profile.id not in _CACHE:
        _CACHE[profile.id] = _document(profile)
    return copy.deepcopy(_CACHE[profile.id])
