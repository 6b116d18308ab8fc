"""REST API for case-management integration (documented in /api/openapi.json).

Bearer tokens with scopes; every contact read is audited like a console view, with the
actor `api:<token name>`. Errors are JSON `{"error": "..."}` with the exact reason.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from sqlalchemy import select

from flows.events import OUTBOX
from storage.models import ConsentRecord, Contact
from storage.repo import audit
from triage import figures, queue, replies, tokens
from triage.clock import local_today
from triage.outcome import RAGS, Decision, OutcomeError, record
from triage.sla import sla_for
from triage.sse import QUEUE_CHANGED
from triage.text import bad_text, clean_text
from triage.webutil import Context, ctx, request_key

ACTOR = request_key("triage.api_actor", str)
SCOPES = request_key("triage.api_scopes", frozenset)
STATUSES = ("new", "claimed", "closed", "withdrawn")
URGENCIES = ("immediate", "urgent", "standard")
FILTERS = ("status", "urgency", "rag", "locality", "category", "outcome", "source", "language")
PUBLIC = ("/api/openapi.json", "/api/handover.schema.json")

ApiHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def summary(contact: Contact, c: Context, now: datetime) -> dict[str, Any]:
    sla = sla_for(contact, c.profile, now)
    return {
        "reference": contact.reference,
        "status": contact.status,
        "complete": contact.complete,
        "urgency": contact.urgency,
        "rag": contact.rag,
        "category": contact.category,
        "suggested_category": contact.suggested_category,
        "outcome": contact.outcome,
        "locality": contact.locality,
        "language": contact.language,
        "interpreter_needed": contact.interpreter_needed,
        "source": contact.source,
        "journey": contact.journey,
        "channel": contact.channel,
        "created_at": _iso(contact.created_at),
        "submitted_at": _iso(contact.submitted_at),
        "claimed_by": contact.claimed_by if contact.status == "claimed" else None,
        "claim_expires_at": _iso(contact.claim_expires_at)
        if contact.status == "claimed" else None,
        "closed_at": _iso(contact.closed_at),
        "safeguarding_hold": contact.safeguarding_hold,
        "sla": {"band": sla.band, "due_at": _iso(sla.due_at), "breached": sla.breached},
    }


def full(contact: Contact, consents: list[ConsentRecord], c: Context,
         now: datetime) -> dict[str, Any]:
    data = summary(contact, c, now)
    data["handover"] = contact.handover or {}
    data["risk_evidence"] = contact.risk_evidence or []
    data["notes"] = contact.notes
    data["consents"] = [
        {
            "given_by": r.given_by,
            "referral_consent": r.referral_consent,
            "no_consent_reason": r.no_consent_reason,
            "no_consent_explanation": r.no_consent_explanation,
            "sharing": r.sharing,
            "sharing_limits": r.sharing_limits,
            "central_storage": r.central_storage,
            "verbal": r.verbal,
            "young_person_age": r.young_person_age,
            "recorded_at": _iso(r.recorded_at),
            "withdrawn_at": _iso(r.withdrawn_at),
        }
        for r in consents
    ]
    return data


@web.middleware
async def authenticate(request: web.Request, handler: ApiHandler) -> web.StreamResponse:
    if request.path in PUBLIC:
        return await handler(request)
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return error(401, "Send an API token in the header: Authorization: Bearer <token>.")
    c = ctx(request)
    async with c.db.transaction() as session:
        row = await tokens.authenticate(session, token.strip(), c.now())
        if row is not None:
            request[ACTOR] = f"api:{row.name}"
            request[SCOPES] = frozenset(row.scopes)
    if row is None:
        return error(401, "The API token is unknown, revoked or expired.")
    return await handler(request)


def scope(needed: str) -> Callable[[ApiHandler], ApiHandler]:
    def wrap(handler: ApiHandler) -> ApiHandler:
        async def checked(request: web.Request) -> web.StreamResponse:
            if needed not in request.get(SCOPES, frozenset()):
                return error(403, f"This token does not have the {needed} scope.")
            return await handler(request)

        checked.__name__ = handler.__name__
        checked.__doc__ = handler.__doc__
        return checked

    return wrap


def _when(value: str, name: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"{name} must be an ISO 8601 date-time.") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@scope("contacts:read")
async def list_contacts(request: web.Request) -> web.StreamResponse:
    c = ctx(request)
    q = request.query
    # A value the database could not even store matches nothing: an empty page, not an error.
    unmatchable = any(bad_text(q[key]) for key in FILTERS if q.get(key))
    stmt = select(Contact)
    try:
        limit = int(q.get("limit", "50"))
        offset = int(q.get("offset", "0"))
    except ValueError:
        return error(400, "limit and offset must be whole numbers.")
    if not 1 <= limit <= 200 or not 0 <= offset <= 1_000_000:
        return error(400, "limit must be 1 to 200 and offset 0 to 1000000.")
    if q.get("status") and q["status"] not in STATUSES:
        return error(400, f"status must be one of: {', '.join(STATUSES)}.")
    if q.get("urgency") and q["urgency"] not in URGENCIES:
        return error(400, f"urgency must be one of: {', '.join(URGENCIES)}.")
    if q.get("rag") and q["rag"] not in RAGS:
        return error(400, f"rag must be one of: {', '.join(RAGS)}.")
    for key in FILTERS:
        if q.get(key) and not unmatchable:
            stmt = stmt.where(getattr(Contact, key) == q[key])
    try:
        if q.get("since"):
            stmt = stmt.where(Contact.created_at >= _when(q["since"], "since"))
        if q.get("until"):
            stmt = stmt.where(Contact.created_at < _when(q["until"], "until"))
    except ValueError as exc:
        return error(400, str(exc))
    stmt = stmt.order_by(*queue.QUEUE_ORDER).offset(offset).limit(limit)
    now = c.now()
    async with c.db.transaction() as session:
        contacts = [] if unmatchable else list((await session.scalars(stmt)).all())
        filters = {k: clean_text(q[k]) for k in FILTERS if q.get(k)}
        await audit(session, request[ACTOR], "api_list",
                    detail={"filters": filters, "returned": len(contacts)})
    return web.json_response({
        "contacts": [summary(contact, c, now) for contact in contacts],
        "limit": limit,
        "offset": offset,
    })


async def _full(session: Any, contact: Contact, c: Context) -> dict[str, Any]:
    consents = list(
        (await session.scalars(
            select(ConsentRecord).where(ConsentRecord.contact_id == contact.id)
            .order_by(ConsentRecord.id)
        )).all()
    )
    return full(contact, consents, c, c.now())


@scope("contacts:read")
async def get_contact(request: web.Request) -> web.StreamResponse:
    c = ctx(request)
    try:
        async with c.db.transaction() as session:
            contact = await queue.find(session, request.match_info["reference"])
            await audit(session, request[ACTOR], "view", contact_id=contact.id,
                        detail={"page": "api"})
            body = await _full(session, contact, c)
    except queue.QueueError as exc:
        return error(exc.status, exc.message)
    return web.json_response(body)


@scope("contacts:write")
async def take_next(request: web.Request) -> web.StreamResponse:
    c = ctx(request)
    async with c.db.transaction() as session:
        contact = await queue.take_next(session, actor=request[ACTOR], now=c.now(),
                                        minutes=queue.claim_minutes(c.profile))
        if contact is None:
            return web.Response(status=204)
        await audit(session, request[ACTOR], "view", contact_id=contact.id,
                    detail={"page": "api"})
        body = await _full(session, contact, c)
        contact_id = contact.id
    c.bus.emit(QUEUE_CHANGED, {"contact_id": contact_id})
    return web.json_response(body)


@scope("contacts:write")
async def claim(request: web.Request) -> web.StreamResponse:
    c = ctx(request)
    try:
        async with c.db.transaction() as session:
            contact = await queue.claim(session, request.match_info["reference"],
                                        actor=request[ACTOR], now=c.now(), profile=c.profile)
            body = summary(contact, c, c.now())
            contact_id = contact.id
    except queue.QueueError as exc:
        return error(exc.status, exc.message)
    c.bus.emit(QUEUE_CHANGED, {"contact_id": contact_id})
    return web.json_response(body)


@scope("contacts:write")
async def release(request: web.Request) -> web.StreamResponse:
    c = ctx(request)
    try:
        async with c.db.transaction() as session:
            contact = await queue.release(session, request.match_info["reference"],
                                          actor=request[ACTOR], manager=False, now=c.now(),
                                          profile=c.profile)
            body = summary(contact, c, c.now())
            contact_id = contact.id
    except queue.QueueError as exc:
        return error(exc.status, exc.message)
    c.bus.emit(QUEUE_CHANGED, {"contact_id": contact_id})
    return web.json_response(body)


async def _json_object(request: web.Request) -> dict[str, Any]:
    try:
        data = await request.json(loads=json.loads)
    except (ValueError, UnicodeDecodeError) as exc:
        raise OutcomeError("The request body must be a JSON object.") from exc
    if not isinstance(data, dict):
        raise OutcomeError("The request body must be a JSON object.")
    return data


def _opt_str(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise OutcomeError(f"{key} must be a string.")
    return clean_text(value).strip() or None


@scope("contacts:write")
async def outcome(request: web.Request) -> web.StreamResponse:
    c = ctx(request)
    try:
        data = await _json_object(request)
        close = data.get("close", False)
        if not isinstance(close, bool):
            raise OutcomeError("close must be true or false.")
        notes = data.get("notes")
        if notes is not None and not isinstance(notes, str):
            raise OutcomeError("notes must be a string.")
        notes = clean_text(notes) if notes is not None else None
        decision = Decision(category=_opt_str(data, "category"), rag=_opt_str(data, "rag"),
                            outcome=_opt_str(data, "outcome"), notes=notes, close=close)
        async with c.db.transaction() as session:
            contact = await queue.locked(session, request.match_info["reference"])
            now = c.now()
            queue.ensure_holder(contact, request[ACTOR], manager=False, now=now,
                                profile=c.profile, doing="record a decision")
            changes = await record(session, contact, decision, actor=request[ACTOR],
                                   profile=c.profile, now=now)
            body = summary(contact, c, now)
            contact_id = contact.id
    except queue.QueueError as exc:
        return error(exc.status, exc.message)
    except OutcomeError as exc:
        return error(400, str(exc))
    c.bus.emit(QUEUE_CHANGED, {"contact_id": contact_id})
    if "notified" in changes:
        c.bus.emit(OUTBOX, {"channel": changes["notified"][1]})
    return web.json_response(body)


@scope("contacts:write")
async def reply(request: web.Request) -> web.StreamResponse:
    c = ctx(request)
    try:
        data = await _json_object(request)
        template = _opt_str(data, "template")
        text = _opt_str(data, "text") or ""
        async with c.db.transaction() as session:
            contact = await queue.locked(session, request.match_info["reference"])
            if contact.status != "closed":
                queue.ensure_holder(contact, request[ACTOR], manager=False, now=c.now(),
                                    profile=c.profile, doing="reply")
            item = await replies.send(session, contact, template=template, text=text,
                                      actor=request[ACTOR], profile=c.profile, now=c.now())
            channel, outbox_id = contact.channel, item.id
    except queue.QueueError as exc:
        return error(exc.status, exc.message)
    except (OutcomeError, replies.ReplyError) as exc:
        return error(400, str(exc))
    c.bus.emit(OUTBOX, {"channel": channel})
    return web.json_response({"outbox_id": outbox_id, "channel": channel}, status=202)


@scope("figures:read")
async def get_figures(request: web.Request) -> web.StreamResponse:
    c = ctx(request)
    for value in request.query.values():
        if bad_text(value):
            return error(400, "Dates must look like 2025-01-31.")
    try:
        first, last = figures.parse_period(request.query.get("from") or None,
                                           request.query.get("to") or None,
                                           local_today(c.profile))
    except ValueError as exc:
        return error(400, str(exc))
    async with c.db.transaction() as session:
        result = await figures.compute(session, c.profile, first, last)
        await audit(session, request[ACTOR], "view_figures",
                    detail={"from": first.isoformat(), "to": last.isoformat(), "page": "api"})
    return web.json_response({
        "from": result.first.isoformat(),
        "to": result.last.isoformat(),
        "total": result.total,
        "by": {
            name: [{"key": n.key, "label": n.label, "count": n.count} for n in counts]
            for name, counts in result.by.items()
        },
        "time_to_triage": [
            {"band": t.band, "closed": t.closed, "median_minutes": t.median_minutes,
             "p90_minutes": t.p90_minutes, "within_sla": t.within_sla}
            for t in result.times
        ],
    })
