"""What the console and API handlers share: the context, rendering, roles and redirects."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, select_autoescape

from bot.settings import Settings
from flows.events import EventBus
from profiles import Profile
from storage.db import Database
from storage.repo import audit
from storage.types import utcnow
from triage import clock
from triage.auth import Principal
from triage.sse import SseHub

TEMPLATES = Path(__file__).resolve().parent / "templates"
SESSION_COOKIE = "fd_session"
COOKIE_PATH = "/console"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Context:
    """Everything a triage handler needs, stored once on each sub-application."""

    db: Database
    profile: Profile
    bus: EventBus
    settings: Settings
    sse: SseHub
    templates: Environment
    cookie_secure: bool

    def now(self) -> datetime:
        return utcnow()


CTX = web.AppKey("triage.context", Context)


def request_key(name: str, kind: type) -> Any:
    """A typed request key where aiohttp has them (3.13+), else the plain string."""
    factory = getattr(web, "RequestKey", None)
    return factory(name, kind) if factory is not None else name


PRINCIPAL = request_key("triage.principal", Principal)


def make_templates(profile: Profile) -> Environment:
    """Autoescape everywhere: whatever a parent typed is shown as text, never run."""
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = lambda dt: clock.fmt(dt, profile)
    env.filters["hhmm"] = lambda dt: clock.fmt_time(dt, profile)
    env.filters["duration"] = clock.duration
    env.filters["iso_when"] = lambda text: _iso_when(text, profile)
    env.globals["profile"] = profile
    return env


def _iso_when(text: Any, profile: Profile) -> str:
    """An ISO time stored in JSON, shown like every other time (local, short)."""
    try:
        return clock.fmt(datetime.fromisoformat(str(text)), profile)
    except ValueError:
        return str(text)


def ctx(request: web.Request) -> Context:
    return request.config_dict[CTX]


def me(request: web.Request) -> Principal | None:
    found = request.get(PRINCIPAL)
    return found if isinstance(found, Principal) else None


def current(request: web.Request) -> Principal:
    principal = me(request)
    if principal is None:
        raise web.HTTPUnauthorized(text="Sign in first.")
    return principal


def render(request: web.Request, template: str, *, status: int = 200,
           **values: Any) -> web.Response:
    principal = me(request)
    html = ctx(request).templates.get_template(template).render(
        me=principal,
        csrf_token=principal.csrf_token if principal else values.pop("csrf_token", ""),
        path=request.path,
        **values,
    )
    return web.Response(text=html, content_type="text/html", charset="utf-8", status=status)


def set_session_cookie(response: web.StreamResponse, request: web.Request, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE, token, path=COOKIE_PATH, httponly=True, samesite="Strict",
        secure=ctx(request).cookie_secure,
    )


def clear_session_cookie(response: web.StreamResponse) -> None:
    response.del_cookie(SESSION_COOKIE, path=COOKIE_PATH)


def see_other(location: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(location)


def safe_next(value: str | None) -> str:
    """Only a path inside the console may be a post-sign-in destination."""
    if value and value.startswith("/console/") and not value.startswith("//") \
            and "\\" not in value:
        return value
    return "/console/"


def requires(role: str) -> Callable[[Handler], Handler]:
    """The signed-in officer must hold `role` (or a higher one); audited when refused."""

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def checked(request: web.Request) -> web.StreamResponse:
            principal = me(request)
            if principal is None:
                if request.method == "GET":
                    raise see_other("/console/login?next=" + quote(request.path_qs))
                raise see_other("/console/login")
            if principal.stage != "full":
                raise see_other("/console/2fa")
            if principal.must_change_password and request.path != "/console/account/password":
                raise see_other("/console/account/password")
            if not principal.has_role(role):
                async with ctx(request).db.transaction() as session:
                    await audit(session, principal.username, "access_denied",
                                detail={"path": request.path, "needs": role})
                return render(
                    request, "error.html", status=403, title="Not allowed",
                    message=f"You need the {role} role to open this page.",
                )
            return await handler(request)

        return checked

    return wrap
