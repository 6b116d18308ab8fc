"""Console actions: keep a contact for safeguarding, block and unblock an abusive sender.

The rules (who may, what is audited) are in triage/safeguards.py; these handlers read the
form, run the rule in one transaction and go back to the page they came from.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Contact
from storage.repo import audit
from triage import queue, safeguards
from triage.auth import Principal
from triage.console import _changed, _contact_page
from triage.text import clean_text
from triage.webutil import Context, ctx, current, render, requires, see_other

# (session, reference, reason, the signed-in officer, the request context) -> the contact
HoldChange = Callable[[AsyncSession, str, str, Principal, Context], Awaitable[Contact]]

MESSAGES = {
    "unblocked": "The sender is unblocked: their next message starts a conversation again.",
}


def _reason(form: object, name: str = "reason") -> str:
    value = form.get(name, "") if hasattr(form, "get") else ""
    return clean_text(str(value or "")).replace("\r\n", "\n")


async def _refused(request: web.Request, exc: Exception) -> web.StreamResponse:
    status = getattr(exc, "status", 400)
    return await _contact_page(request, error=str(exc), status=status)


async def _change_hold(request: web.Request, change: HoldChange, msg: str) -> web.StreamResponse:
    """Place or lift a hold in one transaction, then back to the contact page."""
    c = ctx(request)
    form = await request.post()
    try:
        async with c.db.transaction() as session:
            contact = await change(session, request.match_info["reference"], _reason(form),
                                   current(request), c)
            reference, contact_id = contact.reference, contact.id
    except (queue.QueueError, safeguards.SafeguardError) as exc:
        return await _refused(request, exc)
    _changed(c, contact_id)
    raise see_other(f"/console/contacts/{reference}?msg={msg}")


@requires("officer")
async def keep(request: web.Request) -> web.StreamResponse:
    return await _change_hold(request, lambda session, ref, reason, who, c: safeguards.keep(
        session, ref, reason=reason, principal=who, now=c.now(), profile=c.profile), "kept")


@requires("manager")
async def lift(request: web.Request) -> web.StreamResponse:
    return await _change_hold(request, lambda session, ref, reason, who, c: safeguards.lift(
        session, ref, reason=reason, principal=who, now=c.now()), "hold_lifted")


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
