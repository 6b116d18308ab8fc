"""Console sign-in pages: password, then the 6-digit code, sign-out, change password."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from storage.officers import Officer, OfficerSession
from storage.repo import audit
from triage import accounts, auth, csrf
from triage.passwords import POLICY_TEXT
from triage.webutil import (
    clear_session_cookie,
    ctx,
    me,
    render,
    requires,
    safe_next,
    see_other,
    set_session_cookie,
)

MESSAGES = {
    "signed_out": "You have signed out.",
    "expired": "Your session has ended. Sign in again.",
}


def _login_page(request: web.Request, *, error: str = "", status: int = 200,
                username: str = "") -> web.Response:
    token = request.cookies.get(csrf.LOGIN_COOKIE) or csrf.new_token()
    response = render(
        request, "login.html", status=status, title="Sign in", error=error,
        notice=MESSAGES.get(request.query.get("msg", ""), ""), username=username,
        next=safe_next(request.query.get("next")), csrf_token=token,
    )
    response.set_cookie(csrf.LOGIN_COOKIE, token, path="/console", httponly=True,
                        samesite="Strict", secure=ctx(request).cookie_secure)
    return response


async def login_form(request: web.Request) -> web.StreamResponse:
    principal = me(request)
    if principal is not None and principal.stage == "full":
        raise see_other("/console/")
    return _login_page(request)


async def login(request: web.Request) -> web.StreamResponse:
    c = ctx(request)
    form = await request.post()
    username = str(form.get("username", ""))[:80]
    password = str(form.get("password", ""))[:256]
    now = c.now()
    error = ""
    token = ""
    async with c.db.transaction() as session:
        try:
            officer = await auth.check_password(session, username, password, c.profile, now)
            token = await auth.open_session(session, officer, now, stage="password")
        except auth.LoginError as exc:
            error = str(exc)
    if error:
        return _login_page(request, error=error, status=401, username=username)
    target = safe_next(str(form.get("next", "")))
    response = see_other("/console/2fa?next=" + target)
    set_session_cookie(response, request, token)
    response.del_cookie(csrf.LOGIN_COOKIE, path="/console")
    raise response


async def code_form(request: web.Request) -> web.StreamResponse:
    principal = me(request)
    if principal is None:
        raise see_other("/console/login?msg=expired")
    if principal.stage == "full":
        raise see_other("/console/")
    return render(request, "twofactor.html", title="Enter your code",
                  next=safe_next(request.query.get("next")))


async def check_code(request: web.Request) -> web.StreamResponse:
    principal = me(request)
    if principal is None:
        raise see_other("/console/login?msg=expired")
    c = ctx(request)
    form = await request.post()
    code = str(form.get("code", ""))[:20]
    now = c.now()
    error = ""
    token = ""
    async with c.db.transaction() as session:
        officer = await session.get(Officer, principal.officer_id)
        sess = await session.get(OfficerSession, principal.session_id)
        if officer is None or sess is None:
            raise see_other("/console/login?msg=expired")
        try:
            await auth.check_code(session, officer, code, c.profile, now)
            token = await auth.promote_session(session, sess, now)
            await audit(session, officer.username, "login", detail={})
        except auth.LoginError as exc:
            error = str(exc)
            if officer.locked_until is not None and officer.locked_until > now:
                await auth.revoke_session(session, sess, now)
    if error:
        return render(request, "twofactor.html", status=401, title="Enter your code",
                      error=error, next=safe_next(str(form.get("next", ""))))
    response = see_other(safe_next(str(form.get("next", ""))))
    set_session_cookie(response, request, token)
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    principal = me(request)
    c = ctx(request)
    if principal is not None:
        async with c.db.transaction() as session:
            sess = await session.get(OfficerSession, principal.session_id)
            if sess is not None:
                await auth.revoke_session(session, sess, c.now())
            await audit(session, principal.username, "logout", detail={})
    response = see_other("/console/login?msg=signed_out")
    clear_session_cookie(response)
    raise response


@requires("officer")
async def password_form(request: web.Request) -> web.StreamResponse:
    principal = me(request)
    return render(request, "password.html", title="Change your password",
                  policy=POLICY_TEXT, forced=bool(principal and principal.must_change_password))


@requires("officer")
async def change_password(request: web.Request) -> web.StreamResponse:
    principal = me(request)
    assert principal is not None
    c = ctx(request)
    form = await request.post()
    error = ""
    async with c.db.transaction() as session:
        officer = await session.scalar(select(Officer).where(Officer.id == principal.officer_id))
        assert officer is not None
        try:
            await accounts.change_own_password(
                session, officer, str(form.get("current", ""))[:256],
                str(form.get("new", ""))[:256], str(form.get("confirm", ""))[:256], c.now(),
            )
        except accounts.AccountError as exc:
            error = str(exc)
    if error:
        return render(request, "password.html", status=400, title="Change your password",
                      policy=POLICY_TEXT, error=error,
                      forced=principal.must_change_password)
    raise see_other("/console/?msg=password_changed")
