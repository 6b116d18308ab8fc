"""Admin pages: officer accounts and API tokens. Secrets are shown once, never again."""

from __future__ import annotations

from aiohttp import web

from storage.officers import ROLES
from triage import accounts, tokens
from triage.webutil import ctx, current, render, requires, see_other

MESSAGES = {
    "disabled": "The account is disabled and its sessions have ended.",
    "enabled": "The account is enabled.",
    "unlocked": "The account is unlocked.",
    "role": "The role has been changed.",
    "revoked": "The token is revoked.",
}


async def _officers_page(request: web.Request, *, status: int = 200, error: str = "",
                         enrolment: accounts.Enrolment | None = None) -> web.Response:
    c = ctx(request)
    async with c.db.transaction() as session:
        officers = await accounts.list_officers(session)
    return render(request, "admin_officers.html", status=status, title="Officer accounts",
                  officers=officers, roles=ROLES, error=error, enrolment=enrolment,
                  now=c.now(), notice=MESSAGES.get(request.query.get("msg", ""), ""))


@requires("admin")
async def officers_page(request: web.Request) -> web.StreamResponse:
    return await _officers_page(request)


@requires("admin")
async def add_officer(request: web.Request) -> web.StreamResponse:
    c = ctx(request)
    form = await request.post()
    try:
        async with c.db.transaction() as session:
            enrolment = await accounts.add(
                session,
                username=str(form.get("username", ""))[:80],
                display_name=str(form.get("display_name", ""))[:120],
                role=str(form.get("role", "officer")),
                password=str(form.get("password", ""))[:256],
                actor=current(request).username,
                now=c.now(),
            )
    except accounts.AccountError as exc:
        return await _officers_page(request, status=400, error=str(exc))
    return await _officers_page(request, enrolment=enrolment)


@requires("admin")
async def officer_action(request: web.Request) -> web.StreamResponse:
    c = ctx(request)
    username = request.match_info["username"]
    action = request.match_info["action"]
    actor = current(request).username
    form = await request.post()
    enrolment = None
    try:
        async with c.db.transaction() as session:
            if action in ("disable", "enable"):
                if action == "disable" and username == actor:
                    raise accounts.AccountError("You cannot disable your own account.")
                await accounts.set_active(session, username, action == "enable", actor=actor,
                                          now=c.now())
                msg = f"{action}d"
            elif action == "unlock":
                await accounts.unlock(session, username, actor=actor)
                msg = "unlocked"
            elif action == "role":
                await accounts.set_role(session, username, str(form.get("role", "")),
                                        actor=actor)
                msg = "role"
            elif action == "reset":
                enrolment = await accounts.reset(
                    session, username, str(form.get("password", ""))[:256],
                    new_totp=form.get("new_totp") == "yes", actor=actor, now=c.now(),
                )
                msg = ""
            else:
                raise web.HTTPNotFound()
    except accounts.AccountError as exc:
        return await _officers_page(request, status=400, error=str(exc))
    if action == "reset":
        return await _officers_page(request, enrolment=enrolment)
    raise see_other(f"/console/admin/officers?msg={msg}")


async def _tokens_page(request: web.Request, *, status: int = 200, error: str = "",
                       new_token: str = "") -> web.Response:
    c = ctx(request)
    async with c.db.transaction() as session:
        rows = await tokens.list_tokens(session)
    return render(request, "admin_tokens.html", status=status, title="API tokens",
                  tokens=rows, scopes=tokens.SCOPES, error=error, new_token=new_token,
                  notice=MESSAGES.get(request.query.get("msg", ""), ""))


@requires("admin")
async def tokens_page(request: web.Request) -> web.StreamResponse:
    return await _tokens_page(request)


@requires("admin")
async def create_token(request: web.Request) -> web.StreamResponse:
    c = ctx(request)
    form = await request.post()
    try:
        days = int(str(form.get("days") or "0"))
    except ValueError:
        return await _tokens_page(request, status=400, error="Days must be a whole number.")
    try:
        async with c.db.transaction() as session:
            token = await tokens.create(
                session, name=str(form.get("name", ""))[:80],
                scopes=[str(s) for s in form.getall("scopes", [])],
                actor=current(request).username, now=c.now(), days=days or None,
            )
    except tokens.TokenError as exc:
        return await _tokens_page(request, status=400, error=str(exc))
    return await _tokens_page(request, new_token=token)


@requires("admin")
async def revoke_token(request: web.Request) -> web.StreamResponse:
    c = ctx(request)
    form = await request.post()
    try:
        async with c.db.transaction() as session:
            await tokens.revoke(session, str(form.get("name", "")), actor=current(request).username,
                                now=c.now())
    except tokens.TokenError as exc:
        return await _tokens_page(request, status=400, error=str(exc))
    raise see_other("/console/admin/tokens?msg=revoked")
