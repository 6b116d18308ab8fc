"""CSRF protection for every POST form in the console.

Signed-in forms carry the session's secret token (synchroniser pattern). The sign-in form,
before any session exists, uses a double-submit cookie. A request whose Origin header names
another site is refused before the token is even read. Together with SameSite=Strict
cookies, a page on another site cannot make an officer's browser change anything.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from aiohttp import web

FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
LOGIN_COOKIE = "fd_login_csrf"
REFUSED = (
    "This form has expired or did not come from the console, so nothing was changed. "
    "Go back, reload the page and try again."
)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def same_origin(request: web.Request) -> bool:
    """False only when the browser names another site as the origin.

    "null" (sent by privacy settings and sandboxed frames) names no site; the token decides.
    """
    origin = request.headers.get("Origin")
    if origin is None or origin == "null":
        return True
    return urlsplit(origin).netloc.lower() == (request.host or "").lower()


async def verify(request: web.Request, expected: str) -> bool:
    if not expected:
        return False
    token: object = request.headers.get(HEADER)
    if token is None:
        form = await request.post()
        token = form.get(FIELD)
    return isinstance(token, str) and hmac.compare_digest(token.encode(), expected.encode())
