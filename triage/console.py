"""The officer console: the queue, take-next, the contact page and its actions.

Every page that shows a contact writes an audit event before it renders; every change is
audited in the same transaction as the change itself.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import select

from flows.events import OUTBOX
from storage.models import AuditEvent, ConsentRecord, Contact
from storage.repo import audit, transcript
from triage import accounts, handover_view, queue, replies, safeguards
from triage.auth import Principal
from triage.outcome import RAGS, Decision, OutcomeError, record, triage_block
from triage.reply_templates import BY_OUTCOME
from triage.sla import sla_for
from triage.sse import QUEUE_CHANGED
from triage.text import clean_text
from triage.webutil import Context, ctx, current, render, requires, see_other

MESSAGES = {
    "queue_empty": "The queue is empty: there is no contact to take.",
    "password_changed": "Your password has been changed.",
    "saved": "Saved.",
    "closed": "The contact is closed.",
    "replied": "Your reply is on its way to the referrer.",
    "released": "The contact is back in the queue.",
    "claimed": "You now hold this contact.",
    "reassigned": "The contact has been reassigned.",
    "kept": "The contact is kept for safeguarding: erasure and retention will not remove it.",
    "hold_lifted": "The safeguarding hold is lifted: erasure and retention apply again.",
    "blocked": "The sender is blocked. Their messages are not handled, except a danger "
    "disclosure, which still reaches the queue.",
}
VIEWS = ("open", "mine", "closed")


def _changed(c: Context, contact_id: int) -> None:
    c.bus.emit(QUEUE_CHANGED, {"contact_id": contact_id})


async def _rows(request: web.Request, view: str) -> list[dict[str, Any]]:
    c = ctx(request)
    principal = current(request)
    now = c.now()
    async with c.db.transaction() as session:
        if view == "mine":
            contacts = await queue.held_by(session, principal.username)
        elif view == "closed":
            contacts = await queue.recently_closed(session, since=now - timedelta(days=7))
        else:
            contacts = await queue.open_contacts(session)
        withdrawn = await safeguards.withdrawn_ids(session, [row.id for row in contacts])
    rows = []
    for contact in contacts:
        locality = c.profile.locality(contact.locality) if contact.locality else None
        rows.append(
            {
                "contact": contact,
                "sla": sla_for(contact, c.profile, now),
                "age": now - contact.created_at,
                "locality": locality.name if locality else (contact.locality or "not known"),
                "expired": queue.claim_expired(contact, now),
                "withdrawn": contact.id in withdrawn,
            }
        )
    return rows


def _view(request: web.Request) -> str:
    view = request.query.get("view", "open")
    return view if view in VIEWS else "open"


@requires("officer")
async def queue_page(request: web.Request) -> web.StreamResponse:
    view = _view(request)
    rows = await _rows(request, view)
    c = ctx(request)
    async with c.db.transaction() as session:
        await audit(session, current(request).username, "view_queue", detail={"view": view})
    return render(request, "queue.html", title="Triage queue", rows=rows, view=view,
                  notice=MESSAGES.get(request.query.get("msg", ""), ""))


@requires("officer")
async def queue_rows(request: web.Request) -> web.StreamResponse:
    """The table body alone, fetched by the page when the queue changes."""
    view = _view(request)
    return render(request, "_queue_rows.html", rows=await _rows(request, view), view=view)


@requires("officer")
async def take_next(request: web.Request) -> web.StreamResponse:
    c = ctx(request)
    principal = current(request)
    async with c.db.transaction() as session:
        contact = await queue.take_next(
            session, actor=principal.username, now=c.now(),
            minutes=queue.claim_minutes(c.profile),
        )
        reference = contact.reference if contact else None
        contact_id = contact.id if contact else 0
    if reference is None:
        raise see_other("/console/?msg=queue_empty")
    _changed(c, contact_id)
    raise see_other(f"/console/contacts/{reference}")


async def _load(request: web.Request, reference: str, action: str,
                page: str) -> tuple[Contact, list[ConsentRecord], list[AuditEvent]]:
    """The contact for a page, with the view audited in the same transaction."""
    c = ctx(request)
    principal = current(request)
    async with c.db.transaction() as session:
        contact = await queue.find(session, reference)
        consents = list(
            (await session.scalars(
                select(ConsentRecord).where(ConsentRecord.contact_id == contact.id)
                .order_by(ConsentRecord.id)
            )).all()
        )
        history: list[AuditEvent] = []
        if principal.has_role("manager"):
            history = list(
                (await session.scalars(
                    select(AuditEvent).where(AuditEvent.contact_id == contact.id)
                    .order_by(AuditEvent.id.desc()).limit(50)
                )).all()
            )
        await audit(session, principal.username, action, contact_id=contact.id,
                    detail={"page": page})
    return contact, consents, history


def _decision_rows(contact: Contact, c: Context) -> list[handover_view.Row]:
    block = triage_block(contact)
    return [
        handover_view.Row("Category", c.profile.category_label(contact.category or "")
                          or "not chosen"),
        handover_view.Row("RAG", contact.rag or "not rated"),
        handover_view.Row("Outcome", c.profile.outcome_label(contact.outcome or "")
                          or "none yet"),
        handover_view.Row("Status", contact.status),
        handover_view.Row("Held by", contact.claimed_by or "nobody"),
        handover_view.Row("Replies sent", str(len(block.get("replies") or []))),
    ]


async def _contact_page(request: web.Request, *, error: str = "",
                        status: int = 200) -> web.Response:
    c = ctx(request)
    principal = current(request)
    reference = request.match_info["reference"]
    try:
        contact, consents, history = await _load(request, reference, "view", "contact")
    except queue.QueueError as exc:
        return render(request, "error.html", status=exc.status, title="Not found",
                      message=exc.message)
    now = c.now()
    officers: list[str] = []
    if principal.has_role("manager"):
        async with c.db.transaction() as session:
            officers = [o.username for o in await accounts.list_officers(session) if o.active]
    held_by_me = contact.status == "claimed" and contact.claimed_by == principal.username
    async with c.db.transaction() as session:
        kept = await safeguards.for_contact(session, contact, principal, now)
    return render(
        request,
        "contact.html",
        status=status,
        title=f"Contact {contact.reference}",
        contact=contact,
        summary=handover_view.summary(contact, c.profile),
        blocks=handover_view.build(contact, consents),
        decision=_decision_rows(contact, c),
        triage=triage_block(contact),
        sla=sla_for(contact, c.profile, now),
        expired=queue.claim_expired(contact, now),
        held_by_me=held_by_me,
        can_edit=contact.status in queue.OPEN_STATUSES
        and (held_by_me or principal.has_role("manager")),
        can_reply=bool(contact.chat)
        and (held_by_me or contact.status == "closed" or principal.has_role("manager")),
        categories=c.profile.categories,
        outcomes=c.profile.outcomes,
        rags=RAGS,
        templates=[(key, c.profile.outcome_label(key) or key,
                    replies.preview(contact, c.profile, key)) for key in BY_OUTCOME],
        language=handover_view.language_name(contact.language),
        officers=officers,
        history=history,
        unsafe_to_contact=handover_view.unsafe_to_contact(contact.handover),
        safeguards=kept,
        error=error,
        notice=MESSAGES.get(request.query.get("msg", ""), ""),
    )


@requires("officer")
async def contact_page(request: web.Request) -> web.StreamResponse:
    return await _contact_page(request)


def _done(reference: str, msg: str) -> web.HTTPSeeOther:
    return see_other(f"/console/contacts/{reference}?msg={msg}")


@requires("officer")
async def claim(request: web.Request) -> web.StreamResponse:
    c = ctx(request)
    principal = current(request)
    try:
        async with c.db.transaction() as session:
            contact = await queue.claim(session, request.match_info["reference"],
                                        actor=principal.username, now=c.now(),
                                        profile=c.profile)
            reference, contact_id = contact.reference, contact.id
    except queue.QueueError as exc:
        return await _contact_page(request, error=exc.message, status=exc.status)
    _changed(c, contact_id)
    raise _done(reference, "claimed")


@requires("officer")
async def release(request: web.Request) -> web.StreamResponse:
    c = ctx(request)
    principal = current(request)
    try:
        async with c.db.transaction() as session:
            contact = await queue.release(
                session, request.match_info["reference"], actor=principal.username,
                manager=principal.has_role("manager"), now=c.now(), profile=c.profile,
            )
            contact_id = contact.id
    except queue.QueueError as exc:
        return await _contact_page(request, error=exc.message, status=exc.status)
    _changed(c, contact_id)
    raise see_other("/console/?msg=released")


@requires("manager")
async def reassign(request: web.Request) -> web.StreamResponse:
    c = ctx(request)
    principal = current(request)
    form = await request.post()
    to = str(form.get("officer", ""))[:80]
    try:
        async with c.db.transaction() as session:
            try:
                target = await accounts.get(session, to)
            except accounts.AccountError as exc:
                raise queue.QueueError(400, str(exc)) from exc
            if not target.active:
                raise queue.QueueError(400, f"{target.username} is disabled.")
            contact = await queue.reassign(session, request.match_info["reference"],
                                           to=target.username, actor=principal.username,
                                           now=c.now(), profile=c.profile)
            reference, contact_id = contact.reference, contact.id
    except queue.QueueError as exc:
        return await _contact_page(request, error=exc.message, status=exc.status)
    _changed(c, contact_id)
    raise _done(reference, "reassigned")


def _field(form: Any, name: str) -> str | None:
    value = form.get(name)
    return str(value).strip() if value not in (None, "") else None


@requires("officer")
async def save_triage(request: web.Request) -> web.StreamResponse:
    c = ctx(request)
    principal = current(request)
    form = await request.post()
    decision = Decision(
        category=_field(form, "category"),
        rag=_field(form, "rag"),
        outcome=_field(form, "outcome"),
        notes=clean_text(str(form.get("notes", ""))).replace("\r\n", "\n")
        if "notes" in form else None,
        close=form.get("action") == "close",
    )
    try:
        async with c.db.transaction() as session:
            contact = await queue.locked(session, request.match_info["reference"])
            now = c.now()
            queue.ensure_holder(contact, principal.username,
                                manager=principal.has_role("manager"), now=now,
                                profile=c.profile, doing="record a decision")
            changes = await record(session, contact, decision, actor=principal.username,
                                   profile=c.profile, now=now)
            reference, contact_id = contact.reference, contact.id
    except (queue.QueueError, OutcomeError) as exc:
        status = exc.status if isinstance(exc, queue.QueueError) else 400
        return await _contact_page(request, error=str(exc), status=status)
    _changed(c, contact_id)
    if "notified" in changes:
        c.bus.emit(OUTBOX, {"channel": changes["notified"][1]})
    raise _done(reference, "closed" if decision.close else "saved")


def may_reply(contact: Contact, principal: Principal, c: Context) -> None:
    if contact.status == "closed" or principal.has_role("manager"):
        return
    queue.ensure_holder(contact, principal.username, manager=False, now=c.now(),
                        profile=c.profile, doing="reply")


@requires("officer")
async def send_reply(request: web.Request) -> web.StreamResponse:
    c = ctx(request)
    principal = current(request)
    form = await request.post()
    try:
        async with c.db.transaction() as session:
            contact = await queue.locked(session, request.match_info["reference"])
            may_reply(contact, principal, c)
            await replies.send(session, contact, template=_field(form, "template"),
                               text=clean_text(str(form.get("text", ""))),
                               actor=principal.username,
                               profile=c.profile, now=c.now())
            reference, channel = contact.reference, contact.channel
    except (queue.QueueError, replies.ReplyError) as exc:
        status = exc.status if isinstance(exc, queue.QueueError) else 400
        return await _contact_page(request, error=str(exc), status=status)
    c.bus.emit(OUTBOX, {"channel": channel})
    raise _done(reference, "replied")


@requires("officer")
async def transcript_page(request: web.Request) -> web.StreamResponse:
    c = ctx(request)
    principal = current(request)
    async with c.db.transaction() as session:
        try:
            contact = await queue.find(session, request.match_info["reference"])
        except queue.QueueError as exc:
            return render(request, "error.html", status=exc.status, title="Not found",
                          message=exc.message)
        turns = await transcript(session, contact)
        await audit(session, principal.username, "view_transcript", contact_id=contact.id,
                    detail={"turns": len(turns)})
    return render(request, "transcript.html", title=f"Transcript {contact.reference}",
                  contact=contact, turns=turns)


@requires("officer")
async def print_page(request: web.Request) -> web.StreamResponse:
    c = ctx(request)
    try:
        contact, consents, _ = await _load(request, request.match_info["reference"], "view",
                                           "print")
    except queue.QueueError as exc:
        return render(request, "error.html", status=exc.status, title="Not found",
                      message=exc.message)
    return render(request, "print_contact.html", title=f"Handover {contact.reference}",
                  contact=contact, summary=handover_view.summary(contact, c.profile),
                  blocks=handover_view.build(contact, consents),
                  decision=_decision_rows(contact, c), triage=triage_block(contact))


@requires("officer")
async def contact_pdf_file(request: web.Request) -> web.StreamResponse:
    c = ctx(request)
    try:
        contact, consents, _ = await _load(request, request.match_info["reference"], "view",
                                           "pdf")
    except queue.QueueError as exc:
        return render(request, "error.html", status=exc.status, title="Not found",
                      message=exc.message)
    # fpdf2 and its fonts are about 20 MB: loaded at the first PDF, not in every bot worker.
    from triage.pdf import contact_pdf

    body = await asyncio.to_thread(
        contact_pdf,
        f"Handover for contact {contact.reference} — {c.profile.hub_name}",
        handover_view.summary(contact, c.profile),
        handover_view.build(contact, consents),
        _decision_rows(contact, c),
    )
    return web.Response(
        body=body, content_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{contact.reference}.pdf"'},
    )


@requires("officer")
async def events(request: web.Request) -> web.StreamResponse:
    return await ctx(request).sse.stream(request)
