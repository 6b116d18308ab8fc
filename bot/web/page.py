"""The chat page, its static files and the neutral page, with strict security headers.

Everything is served by the project itself: no CDN, font or tracker, so the Content-Security-
Policy can allow 'self' only and no inline script. Responses are `no-store` so a shared
device's cache keeps no copy of the page.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from bot.web.strings import page_strings
from flows.i18n import RTL, available_languages
from profiles import Profile

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
STATIC_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
DEFAULT_QUICK_EXIT_URL = "https://www.bbc.co.uk/weather"
WS_PATH = "/chat/ws"
NEUTRAL_PATH = "/neutral"
MAX_TEXT_BYTES = 4000

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'; "
    "manifest-src 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


@dataclass(frozen=True)
class PageConfig:
    """What the page needs from the profile and environment, fixed at start-up."""

    profile: Profile
    quick_exit_url: str
    languages: tuple[str, ...]

    @classmethod
    def build(cls, profile: Profile) -> PageConfig:
        url = (
            os.environ.get("FRONTDOOR_QUICK_EXIT_URL", "").strip()
            or str(profile.raw.get("quick_exit_url") or "")
            or DEFAULT_QUICK_EXIT_URL
        )
        offered = tuple(lang for lang in profile.languages if lang in available_languages())
        return cls(profile, url, offered or ("en",))

    @property
    def default_language(self) -> str:
        lang = str(self.profile.raw.get("default_language", "en"))
        return lang if lang in self.languages else self.languages[0]

    def pick(self, wanted: list[str]) -> str | None:
        """The first offered language among `wanted` (BCP 47 tags; only the base counts)."""
        for tag in wanted:
            base = str(tag).strip().replace("_", "-").split("-", 1)[0].lower()
            if base in self.languages:
                return base
        return None


def accept_language(header: str) -> list[str]:
    """Accept-Language tags, best first (q-values honoured, malformed parts ignored)."""
    ranked: list[tuple[float, int, str]] = []
    for n, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        if tag and tag != "*":
            ranked.append((-quality, n, tag))
    return [tag for _, _, tag in sorted(ranked)]


@cache
def _templates() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )


@cache
def _static_files() -> dict[str, tuple[bytes, str, str]]:
    """name -> (content, content type, short digest for cache-busting URLs)."""
    files = {}
    for path in sorted(STATIC.iterdir()):
        if path.suffix in STATIC_TYPES:
            data = path.read_bytes()
            files[path.name] = (
                data,
                STATIC_TYPES[path.suffix],
                hashlib.sha256(data).hexdigest()[:12],
            )
    return files


def _respond(body: str, status: int = 200) -> web.Response:
    return web.Response(
        text=body, status=status, content_type="text/html", charset="utf-8", headers=HEADERS
    )


def page_language(config: PageConfig, request: web.Request) -> tuple[str, bool]:
    """(language, chosen explicitly): ?lang=xx wins, then the browser's Accept-Language."""
    explicit = config.pick([request.query.get("lang", "")])
    if explicit:
        return explicit, True
    return config.pick(
        accept_language(request.headers.get("Accept-Language", ""))
    ) or config.default_language, False


def render_chat(config: PageConfig, request: web.Request) -> web.Response:
    language, explicit = page_language(config, request)
    strings = page_strings(config.profile, language)
    versions = {name: digest for name, (_data, _type, digest) in _static_files().items()}
    client: dict[str, Any] = {
        "ws": WS_PATH,
        "exit": config.quick_exit_url,
        "language": language,
        "explicit": explicit,
        "languages": list(config.languages),
        "strings": strings,
        "maxBytes": MAX_TEXT_BYTES,
        "emergency": config.profile.emergency_number,
        "hubPhone": config.profile.hub_phone,
    }
    body = (
        _templates()
        .get_template("chat.html")
        .render(
            lang=language,
            dir="rtl" if language in RTL else "ltr",
            s=strings,
            exit_url=config.quick_exit_url,
            versions=versions,
            client=client,
        )
    )
    return _respond(body)


def render_neutral(config: PageConfig, request: web.Request) -> web.Response:
    language, _ = page_language(config, request)
    strings = page_strings(config.profile, language)
    body = (
        _templates()
        .get_template("neutral.html")
        .render(lang=language, dir="rtl" if language in RTL else "ltr", s=strings)
    )
    return _respond(body)


async def static_file(request: web.Request) -> web.Response:
    found = _static_files().get(request.match_info["name"])
    if found is None:
        raise web.HTTPNotFound(headers=HEADERS)
    data, content_type, _digest = found
    return web.Response(body=data, headers={**HEADERS, "Content-Type": content_type})
