"""The chat page as served: headers, language and direction, nothing from other sites."""

from __future__ import annotations

import re

import aiohttp
import pytest

from bot.web import resume
from bot.web.limits import FailureLimiter, TokenBucket
from bot.web.page import CSP, accept_language
from tests.web.support import WebServer


async def _get(url: str, **headers: str) -> tuple[int, dict[str, str], str]:
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as response:
        return response.status, dict(response.headers), await response.text()


async def test_the_page_is_self_contained_and_strict(sqlite_server: WebServer) -> None:
    status, headers, body = await _get(f"{sqlite_server.base}/", **{"Accept-Language": "en-GB"})
    assert status == 200 and headers["Content-Security-Policy"] == CSP
    assert "script-src 'self'" in CSP and "unsafe-inline" not in CSP
    assert headers["Referrer-Policy"] == "no-referrer" and headers["Cache-Control"] == "no-store"
    assert headers["X-Frame-Options"] == "DENY"
    assert '<html lang="en" dir="ltr">' in body
    assert f'href="{sqlite_server.base}/neutral"' in body  # the quick exit, from the env var
    # Every script, style sheet and image comes from this server; no inline script runs.
    sources = re.findall(r'(?:src|href)="([^"]+)"', body)
    assert all(
        s.startswith("/static/chat/") or s == f"{sqlite_server.base}/neutral" for s in sources
    ), sources
    scripts = re.findall(r"<script([^>]*)>", body)
    assert all("src=" in s or 'type="application/json"' in s for s in scripts), scripts
    assert "style=" not in body
    for path in re.findall(r'"(/static/chat/[^"?]+)', body):
        status, headers, _ = await _get(f"{sqlite_server.base}{path}")
        assert status == 200 and headers["X-Content-Type-Options"] == "nosniff"
    status, _, _ = await _get(f"{sqlite_server.base}/static/chat/../page.py")
    assert status == 404


@pytest.mark.parametrize(
    ("query", "accept", "lang", "direction"),
    [
        ("", "ar,en;q=0.5", "ar", "rtl"),
        ("", "fa-IR", "fa", "rtl"),
        ("", "pl-PL,pl;q=0.9", "pl", "ltr"),
        ("?lang=ur", "en-GB", "ur", "rtl"),
        ("?lang=xx", "de-DE", "en", "ltr"),
    ],
)
async def test_language_and_direction_follow_the_browser_or_the_link(
    sqlite_server: WebServer, query: str, accept: str, lang: str, direction: str
) -> None:
    _, _, body = await _get(f"{sqlite_server.base}/chat{query}", **{"Accept-Language": accept})
    assert f'<html lang="{lang}" dir="{direction}">' in body


async def test_the_neutral_page_says_nothing_about_the_hub(sqlite_server: WebServer) -> None:
    status, headers, body = await _get(f"{sqlite_server.base}/neutral")
    assert status == 200 and headers["Referrer-Policy"] == "no-referrer"
    assert "hub" not in body.lower() and "chat" not in body.lower()


def test_accept_language_order() -> None:
    assert accept_language("fr;q=0.2, ar, en-GB;q=0.8, *;q=0.1, x;q=oops") == ["ar", "en-GB", "fr"]


def test_codes_are_short_unambiguous_and_forgiving() -> None:
    code = resume.new_code()
    assert len(code) == resume.CODE_LENGTH and set(code) <= set(resume.ALPHABET)
    shown = resume.display(code)
    assert resume.normalise(shown.lower()) == code
    assert resume.normalise(f" {code[:3]} {code[3:7]}-{code[7:]} ") == code
    assert resume.normalise("0000000000") is None and resume.normalise(None) is None
    assert resume.digest(code) != resume.digest(resume.new_code())
    token = resume.new_token()
    assert resume.valid_token(token) and not resume.valid_token(token + "x")
    assert resume.chat_key(token).startswith("w") and token not in resume.chat_key(token)


def test_limits() -> None:
    now = [0.0]
    bucket = TokenBucket(burst=5, rate=5.0, clock=lambda: now[0])
    assert [bucket.take() for _ in range(7)] == [True] * 5 + [False] * 2
    now[0] = 0.2
    assert bucket.take() and not bucket.take()
    failures = FailureLimiter(limit=2, window=60, max_keys=2, clock=lambda: now[0])
    failures.failed("a")
    failures.failed("a")
    assert failures.blocked("a") and not failures.blocked("b")
    now[0] = 61
    assert not failures.blocked("a")
