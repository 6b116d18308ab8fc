"""Console actions: keep a contact for safeguarding, block and unblock an abusive sender.

The rules (who may, what is audited) are in triage/safeguards.py; these handlers read the
form, run the rule in one transaction and go back to the page they came from.
"""

from __future__ import annotations

from aiohttp import web

from storage.repo import audit
from triage import queue, safeguards
from triage.console import _changed, _contact_page
from triage.text import clean_text
from triage.webutil import ctx, current, render, requires, see_other

MESSAGES = {
    "unblocked": "The sender is unblocked: their next message starts a conversation again.",
}


def _reason(form: object, name: str = "reason") -> str:
    value = form.get(name, "") if hasattr(form, "get") else ""
    return clean_text(str(value or "")).replace("\r\n", "\n")


async def _refused(request: web.Request, exc: Exception) -> web.StreamResponse:
    status = getattr(exc, "status", 400)
    return await _contact_page(request, error=str(exc), status=status)


@requires("officer")
async def keep(request: web.Request) -> web.StreamResponse:
    c = ctx(request)
    form = await request.post()
    try:
        async with c.db.transaction() as session:
            contact = await safeguards.keep(
                session, request.match_info["reference"], reason=_reason(form),
                principal=current(request), now=c.now(), profile=c.profile)
            reference, contact_id = contact.reference, contact.id
    except (queue.QueueError, safeguards.SafeguardError) as exc:
        return await _refused(request, exc)
    _changed(c, contact_id)
    raise see_other(f"/console/contacts/{reference}?msg=kept")


@requires("manager")
async def lift(request: web.Request) -> web.StreamResponse:
    c = ctx(request)
    form = await request.post()
    try:
        async with c.db.transaction() as session:
            contact = await safeguards.lift(
                session, request.match_info["reference"], reason=_reason(form),
                principal=current(request), now=c.now())
            reference, contact_id = contact.reference, contact.id
    except (queue.QueueError, safeguards.SafeguardError) as exc:
        return await _refused(request, exc)
    _changed(c, contact_id)
    raise see_other(f"/console/contacts/{reference}?msg=hold_lifted")


@requires("manager")
async def block(request: web.Request) -> web.StreamResponse:
    c = ctx(request)
    form = await request.post()
    now = c.now()
    try:
        until = safeguards.end_of_day(str(form.get("until", "") or "")[:20], c.profile, now)
        async with c.db.transaction() as session:
            await safeguards.block_sender(
                session, request.match_info["reference"], reason=_reason(form),
                until=until, principal=current(request), now=now)
    except (queue.QueueError, safeguards.SafeguardError) as exc:
        return await _refused(request, exc)
    raise see_other(f"/console/contacts/{request.match_info['reference'].upper()}?msg=blocked")


async def _blocked_page(request: web.Request, *, status: int = 200,
                        error: str = "") -> web.Response:
    c = ctx(request)
    now = c.now()
    async with c.db.transaction() as session:
        active, ended = await safeguards.blocked_senders(session, now)
        await audit(session, current(request).username, "view_blocked",
                    detail={"active": len(active)})
    return render(request, "blocked.html", status=status, title="Blocked senders",
                  active=active, ended=ended, now=now, error=error,
                  notice=MESSAGES.get(request.query.get("msg", ""), ""))


@requires("manager")
async def blocked_page(request: web.Request) -> web.StreamResponse:
    return await _blocked_page(request)


@requires("manager")
async def unblock(request: web.Request) -> web.StreamResponse:
    c = ctx(request)
    try:
        block_id = int(request.match_info["block_id"])
    except ValueError as exc:
        raise web.HTTPNotFound() from exc
    try:
        async with c.db.transaction() as session:
            await safeguards.unblock_sender(session, block_id, principal=current(request),
                                            now=c.now())
    except safeguards.SafeguardError as exc:
        return await _blocked_page(request, status=exc.status, error=exc.message)
    raise see_other("/console/blocked?msg=unblocked")
