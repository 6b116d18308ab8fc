"""Wire the console (/console/...) and the REST API (/api/...) into the main aiohttp app.

Both are sub-applications, so their middlewares (sessions, CSRF, security headers, bearer
tokens) apply to triage routes only and never to the web chat or /healthz.
"""

from __future__ import annotations

import os
from pathlib import Path

from aiohttp import web

from bot.settings import Settings
from flows.events import EventBus
from profiles import Profile
from storage.db import Database
from storage.types import utcnow
from triage import (
    api,
    auth,
    console,
    console_admin,
    console_auth,
    console_reports,
    console_safeguards,
    csrf,
    openapi,
)
from triage.sse import SseHub
from triage.webutil import (
    CTX,
    PRINCIPAL,
    SESSION_COOKIE,
    Context,
    Handler,
    ctx,
    make_templates,
    me,
    render,
)

STATIC = Path(__file__).resolve().parent / "static"
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


def cookie_secure_from_env() -> bool:
    """Secure cookies unless FRONTDOOR_COOKIE_SECURE=0 (plain http on localhost only)."""
    return os.environ.get("FRONTDOOR_COOKIE_SECURE", "1").strip().lower() not in (
        "0", "false", "no", "off")


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers.update(SECURITY_HEADERS)
        raise
    if not response.prepared:
        response.headers.update(SECURITY_HEADERS)
    return response


@web.middleware
async def session_loader(request: web.Request, handler: Handler) -> web.StreamResponse:
    token = request.cookies.get(SESSION_COOKIE, "")
    if token and not request.path.startswith("/console/static/"):
        c = ctx(request)
        async with c.db.transaction() as session:
            found = await auth.load_session(session, token, utcnow())
            if found is not None:
                request[PRINCIPAL] = auth.principal(found[1], found[0])
    return await handler(request)


@web.middleware
async def csrf_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        principal = me(request)
        expected = principal.csrf_token if principal else request.cookies.get(
            csrf.LOGIN_COOKIE, "")
        if not csrf.same_origin(request) or not await csrf.verify(request, expected):
            return render(request, "error.html", status=403, title="Form refused",
                          message=csrf.REFUSED)
    return await handler(request)


async def _openapi(request: web.Request) -> web.StreamResponse:
    return web.json_response(openapi.document(ctx(request).profile))


async def _handover_schema(_request: web.Request) -> web.StreamResponse:
    return web.json_response(openapi.handover_schema())


def console_app(context: Context) -> web.Application:
    app = web.Application(middlewares=[security_headers, session_loader, csrf_guard])
    app[CTX] = context
    r = app.router
    r.add_get("/", console.queue_page)
    r.add_get("/queue/rows", console.queue_rows)
    r.add_post("/take-next", console.take_next)
    r.add_get("/login", console_auth.login_form)
    r.add_post("/login", console_auth.login)
    r.add_get("/2fa", console_auth.code_form)
    r.add_post("/2fa", console_auth.check_code)
    r.add_post("/logout", console_auth.logout)
    r.add_get("/account/password", console_auth.password_form)
    r.add_post("/account/password", console_auth.change_password)
    r.add_get("/contacts/{reference}", console.contact_page)
    r.add_get("/contacts/{reference}/transcript", console.transcript_page)
    r.add_get("/contacts/{reference}/print", console.print_page)
    r.add_get("/contacts/{reference}/handover.pdf", console.contact_pdf_file)
    r.add_post("/contacts/{reference}/claim", console.claim)
    r.add_post("/contacts/{reference}/release", console.release)
    r.add_post("/contacts/{reference}/reassign", console.reassign)
    r.add_post("/contacts/{reference}/triage", console.save_triage)
    r.add_post("/contacts/{reference}/reply", console.send_reply)
    r.add_post("/contacts/{reference}/hold", console_safeguards.keep)
    r.add_post("/contacts/{reference}/hold/lift", console_safeguards.lift)
    r.add_post("/contacts/{reference}/block", console_safeguards.block)
    r.add_get("/blocked", console_safeguards.blocked_page)
    r.add_post(r"/blocked/{block_id:\d+}/unblock", console_safeguards.unblock)
    r.add_get("/handover", console_reports.handover_page)
    r.add_get("/handover.pdf", console_reports.handover_pdf_file)
    r.add_get("/figures", console_reports.figures_page)
    r.add_get("/figures.csv", console_reports.figures_csv)
    r.add_get("/audit", console_reports.audit_page)
    r.add_get("/admin/officers", console_admin.officers_page)
    r.add_post("/admin/officers", console_admin.add_officer)
    r.add_post(r"/admin/officers/{username}/{action:disable|enable|unlock|reset|role}",
               console_admin.officer_action)
    r.add_get("/admin/tokens", console_admin.tokens_page)
    r.add_post("/admin/tokens", console_admin.create_token)
    r.add_post("/admin/tokens/revoke", console_admin.revoke_token)
    r.add_get("/events", console.events)
    r.add_static("/static/", STATIC, append_version=True)

    async def close_streams(_app: web.Application) -> None:
        await context.sse.close()

    app.on_shutdown.append(close_streams)
    return app


def api_app(context: Context) -> web.Application:
    app = web.Application(middlewares=[api.authenticate])
    app[CTX] = context
    r = app.router
    r.add_get("/openapi.json", _openapi)
    r.add_get("/handover.schema.json", _handover_schema)
    r.add_get("/contacts", api.list_contacts)
    r.add_post("/contacts/take-next", api.take_next)
    r.add_get("/contacts/{reference}", api.get_contact)
    r.add_post("/contacts/{reference}/claim", api.claim)
    r.add_post("/contacts/{reference}/release", api.release)
    r.add_post("/contacts/{reference}/outcome", api.outcome)
    r.add_post("/contacts/{reference}/reply", api.reply)
    r.add_get("/figures", api.get_figures)
    return app


def setup(
    app: web.Application,
    *,
    db: Database,
    profile: Profile,
    bus: EventBus,
    settings: Settings,
    cookie_secure: bool | None = None,
) -> None:
    """Add /console/... (with SSE at /console/events) and /api/... to `app`."""
    sse = SseHub(profile)
    sse.attach(bus)
    context = Context(
        db=db,
        profile=profile,
        bus=bus,
        settings=settings,
        sse=sse,
        templates=make_templates(profile),
        cookie_secure=cookie_secure_from_env() if cookie_secure is None else cookie_secure,
    )

    async def to_console(_request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/console/")

    app.router.add_get("/console", to_console)
    app.add_subapp("/console", console_app(context))
    app.add_subapp("/api", api_app(context))
