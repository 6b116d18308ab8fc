"""A local fake of the Telegram Bot API, served over real HTTP.

Why: the bot is tested end to end (real aiogram session, real HTTP, real
long polling / webhooks) without Telegram, and load-tested with injected
429/5xx storms. Point aiogram at it with
``AiohttpSession(api=TelegramAPIServer.from_base(fake.base_url))`` (or just
``fake.make_bot()``).

Fidelity notes (all deliberate, because bots break on exactly these):

* aiogram always POSTs form data (urlencoded, or multipart when uploading);
  scalars arrive as strings, nested values (``reply_markup``, ``entities``,
  ``allowed_updates``...) as JSON strings. JSON bodies and GET query strings
  are accepted too, like Telegram.
* Errors use Telegram's envelope and wording (``message is not modified``,
  ``can't parse entities``, ``query is too old...``, 409 conflicts, 401/404)
  so aiogram raises the same exception classes it raises in production.
* getUpdates confirms by offset (ids < offset are dropped), long-polls, and a
  second concurrent poll terminates the first with 409, as on Telegram.
* Webhook deliveries are ordered per chat, run up to ``max_connections`` in
  parallel, are retried on failure, and a method returned in the webhook
  response body is executed, as Telegram does.

Everything runs on one asyncio event loop: the Python control API is
synchronous except the ``wait_*`` helpers and must be called from that loop.
Another process can drive the same controls over HTTP under ``/_control/``.

Standalone: ``python tests/fake_bot_api.py --port 8081`` prints one JSON line
with ``base_url`` and ``token`` and serves until SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import itertools
import json
import logging
import random
import re
import signal
import sys
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Collection, Iterable
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final

from aiohttp import ClientError, ClientSession, ClientTimeout, web

if TYPE_CHECKING:
    from aiogram import Bot

__all__ = [
    "DEFAULT_TOKEN",
    "ApiError",
    "FakeBotAPI",
    "LogView",
    "parse_html",
    "parse_markdown_legacy",
    "parse_markdown_v2",
    "render_text",
]

log = logging.getLogger("fake_bot_api")

JSON = dict[str, Any]
Handler = Callable[[JSON], Awaitable[Any]]

DEFAULT_TOKEN: Final = "123456789:AAF4k3-Fr0nt-D00r-T0k3n-f0r-t3sts_0123"

# Form fields that are always text: never JSON-decode them ("123" stays "123").
_TEXT_KEYS: Final = frozenset(
    {
        "text", "caption", "parse_mode", "url", "secret_token", "callback_query_id",
        "inline_message_id", "action", "language_code", "ip_address", "description",
        "short_description", "name", "emoji", "business_connection_id",
        "message_effect_id", "title", "query", "data", "file_id", "file_name",
    }
)  # fmt: skip
# Fields whose value is a JSON document even when a JSON body sends it as a string.
_JSON_KEYS: Final = frozenset(
    {
        "reply_markup", "entities", "caption_entities", "allowed_updates", "commands",
        "scope", "menu_button", "link_preview_options", "reply_parameters", "media",
        "message_ids",
    }
)  # fmt: skip
_DEFAULT_EXCLUDED_UPDATES: Final = frozenset(
    {"chat_member", "message_reaction", "message_reaction_count"}
)
_CHAT_ACTIONS: Final = frozenset(
    {
        "typing", "upload_photo", "record_video", "upload_video", "record_voice",
        "upload_voice", "upload_document", "choose_sticker", "find_location",
        "record_video_note", "upload_video_note",
    }
)  # fmt: skip
_COMMAND_RE: Final = re.compile(r"^[a-z0-9_]{1,32}$")
_SECRET_RE: Final = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_STATUS_TEXT: Final = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
_QUERY_TOO_OLD: Final = "query is too old and response timeout expired or query ID is invalid"
_NOT_MODIFIED: Final = (
    "message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)


class ApiError(Exception):
    """A Telegram-style error response; raising it from a handler short-circuits."""

    def __init__(self, status: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def body(self) -> JSON:
        body: JSON = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def _bad(message: str) -> ApiError:
    return ApiError(400, f"Bad Request: {message}")


def _entity_error(message: str) -> ApiError:
    return _bad(f"can't parse entities: {message}")


def _fault_error(status: int, retry_after: int, description: str | None) -> ApiError:
    if status == 429:
        return ApiError(
            429,
            description or f"Too Many Requests: retry after {retry_after}",
            {"retry_after": retry_after},
        )
    return ApiError(status, description or _STATUS_TEXT.get(status, "Internal Server Error"))


# --------------------------------------------------------------------------- text


def _u16(text: str) -> int:
    """Length in UTF-16 code units: Telegram's unit for offsets and limits."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


class _TextBuilder:
    """Accumulates rendered text and the entities found while parsing markup."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.pos = 0  # UTF-16 offset of the end of the text so far
        self.entities: list[JSON] = []

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.pos += _u16(text)

    def close(self, start: int, entity: JSON) -> None:
        if self.pos > start:  # Telegram silently drops empty entities
            self.entities.append({**entity, "offset": start, "length": self.pos - start})

    def result(self) -> tuple[str, list[JSON]]:
        self.entities.sort(key=lambda e: (e["offset"], -e["length"]))
        return "".join(self.parts), self.entities


_HTML_TAGS: Final = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline",
    "ins": "underline", "s": "strikethrough", "strike": "strikethrough",
    "del": "strikethrough", "tg-spoiler": "spoiler", "span": "spoiler",
    "a": "text_link", "code": "code", "pre": "pre", "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}  # fmt: skip
_HTML_NAMED: Final = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_HTML_ENTITY_RE: Final = re.compile(r"&(#[xX][0-9a-fA-F]{1,6}|#[0-9]{1,7}|[a-zA-Z]{1,8});")
_HTML_ATTR_RE: Final = re.compile(
    r"""\s*([a-zA-Z_-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?"""
)


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def _decode_html_entity(match: re.Match[str]) -> str | None:
    body = match.group(1)
    if body.startswith(("#x", "#X")):
        code = int(body[2:], 16)
    elif body.startswith("#"):
        code = int(body[1:])
    else:
        return _HTML_NAMED.get(body)
    return chr(code) if 0 < code <= 0x10FFFF else None


def parse_html(text: str) -> tuple[str, list[JSON]]:
    """Telegram's HTML parse mode: plain text + entities, or Telegram's error."""
    out = _TextBuilder()
    stack: list[tuple[str, int, JSON]] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "&":
            m = _HTML_ENTITY_RE.match(text, i)
            decoded = _decode_html_entity(m) if m else None
            if m and decoded is not None:
                out.add(decoded)
                i = m.end()
            else:  # like Telegram, an '&' that starts no known entity is literal
                out.add("&")
                i += 1
            continue
        if ch != "<":
            j = i + 1
            while j < n and text[j] not in "<&":
                j += 1
            out.add(text[i:j])
            i = j
            continue
        offset = _byte_offset(text, i)
        if text.startswith("</", i):
            end = text.find(">", i)
            if end < 0:
                raise _entity_error(f"Unclosed end tag at byte offset {offset}")
            name = text[i + 2 : end].strip().lower()
            if not stack:
                raise _entity_error(f"Unexpected end tag at byte offset {offset}")
            if stack[-1][0] != name:
                raise _entity_error(
                    f'Unmatched end tag at byte offset {offset}, expected "</{stack[-1][0]}>", '
                    f'found "</{name}>"'
                )
            _, start, closed = stack.pop()
            if closed:
                out.close(start, closed)
            i = end + 1
            continue
        j = i + 1
        while j < n and not text[j].isspace() and text[j] not in "/>":
            j += 1
        name = text[i + 1 : j].lower()
        if name not in _HTML_TAGS:
            raise _entity_error(f'Unsupported start tag "{name}" at byte offset {offset}')
        end = text.find(">", j)
        if end < 0:
            raise _entity_error(f"Unclosed start tag at byte offset {offset}")
        attrs = {
            m.group(1).lower(): m.group(2) or m.group(3) or m.group(4) or ""
            for m in _HTML_ATTR_RE.finditer(text[j:end].rstrip("/"))
        }
        entity: JSON = {"type": _HTML_TAGS[name]}
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise _entity_error('Tag "span" must have class "tg-spoiler"')
        if name == "a":
            entity = {"type": "text_link", "url": attrs["href"]} if attrs.get("href") else {}
        elif name == "tg-emoji":
            emoji_id = attrs.get("emoji-id")
            entity = {"type": "custom_emoji", "custom_emoji_id": emoji_id} if emoji_id else {}
        elif name == "blockquote" and "expandable" in attrs:
            entity = {"type": "expandable_blockquote"}
        elif name == "code" and stack and stack[-1][0] == "pre":
            lang = attrs.get("class", "")
            if lang.startswith("language-"):  # <pre><code class="language-x"> is one entity
                stack[-1][2]["language"] = lang[len("language-") :]
            entity = {}
        stack.append((name, out.pos, entity))
        i = end + 1
    if stack:
        raise _entity_error(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    return out.result()


_MDV2_RESERVED: Final = frozenset("_*[]()~`>#+-={}.!|")
_MD_NAMES: Final = {
    "bold": "Bold", "italic": "Italic", "underline": "Underline",
    "strikethrough": "Strikethrough", "spoiler": "Spoiler", "code": "Code", "pre": "Pre",
    "text_link": "TextUrl", "custom_emoji": "CustomEmoji",
}  # fmt: skip


def _read_link_target(text: str, i: int, escape: bool) -> tuple[str, int] | None:
    """Reads ``(url)`` starting at ``text[i] == '('``; returns (url, index after ')')."""
    if i >= len(text) or text[i] != "(":
        return None
    url: list[str] = []
    j = i + 1
    while j < len(text):
        c = text[j]
        if escape and c == "\\" and j + 1 < len(text):
            url.append(text[j + 1])
            j += 2
            continue
        if c == ")":
            return "".join(url), j + 1
        url.append(c)
        j += 1
    return None


def parse_markdown_v2(text: str) -> tuple[str, list[JSON]]:
    """Telegram's MarkdownV2: reserved characters must be escaped, entities closed."""
    out = _TextBuilder()
    stack: list[tuple[str, int, int, JSON]] = []  # kind, start pos, byte offset, entity
    i, n = 0, len(text)

    def toggle(kind: str, width: int) -> None:
        for k in range(len(stack) - 1, -1, -1):
            if stack[k][0] == kind:
                _, start, _, entity = stack.pop(k)
                out.close(start, entity)
                return
        stack.append((kind, out.pos, _byte_offset(text, i), {"type": kind}))

    while i < n:
        ch = text[i]
        top = stack[-1][0] if stack else ""
        if ch == "\\" and i + 1 < n and 0 < ord(text[i + 1]) <= 126:
            out.add(text[i + 1])
            i += 2
            continue
        if top in ("code", "pre"):
            if top == "pre" and text.startswith("```", i):
                toggle("pre", 3)
                i += 3
            elif top == "code" and ch == "`":
                toggle("code", 1)
                i += 1
            else:
                out.add(ch)
                i += 1
            continue
        line_start = i == 0 or text[i - 1] == "\n"
        if line_start and text.startswith("**>", i):
            i += 3
            continue
        if line_start and ch == ">":
            i += 1
            continue
        if text.startswith("||", i) and not any(s[0] == "spoiler" for s in stack):
            rest = text[i + 2 :]
            if rest == "" or rest.startswith("\n"):  # end of an expandable blockquote
                i += 2
                continue
        if ch == "*":
            toggle("bold", 1)
            i += 1
        elif ch == "_":
            if text.startswith("__", i):
                toggle("underline", 2)
                i += 2
            else:
                toggle("italic", 1)
                i += 1
        elif ch == "~":
            toggle("strikethrough", 1)
            i += 1
        elif text.startswith("||", i):
            toggle("spoiler", 2)
            i += 2
        elif text.startswith("```", i):
            nl = text.find("\n", i + 3)
            lang = text[i + 3 : nl] if nl >= 0 else ""
            entity: JSON = {"type": "pre"}
            if lang.strip() and " " not in lang.strip():
                entity["language"] = lang.strip()
            stack.append(("pre", out.pos, _byte_offset(text, i), entity))
            i = nl + 1 if nl >= 0 and (lang == "" or "language" in entity) else i + 3
        elif ch == "`":
            toggle("code", 1)
            i += 1
        elif ch == "[" or text.startswith("![", i):
            kind = "custom_emoji" if ch == "!" else "text_link"
            stack.append((kind, out.pos, _byte_offset(text, i), {"type": kind}))
            i += 2 if ch == "!" else 1
        elif ch == "]" and top in ("text_link", "custom_emoji"):
            kind, start, _, _ = stack.pop()
            target = _read_link_target(text, i + 1, escape=True)
            if target is None:
                i += 1  # "[text]" without a URL renders as plain text
                continue
            url, i = target
            if kind == "custom_emoji":
                out.close(
                    start, {"type": "custom_emoji", "custom_emoji_id": url.rsplit("=", 1)[-1]}
                )
            else:
                out.close(start, {"type": "text_link", "url": url})
        elif ch in _MDV2_RESERVED:
            raise _entity_error(
                f"Character '{ch}' is reserved and must be escaped with the preceding '\\'"
            )
        else:
            j = i + 1
            while j < n and text[j] not in _MDV2_RESERVED and text[j] not in "\\\n":
                j += 1
            out.add(text[i:j])
            i = j
    if stack:
        kind, _, offset, _ = stack[-1]
        raise _entity_error(f"Can't find end of {_MD_NAMES[kind]} entity at byte offset {offset}")
    return out.result()


def parse_markdown_legacy(text: str) -> tuple[str, list[JSON]]:
    """Legacy Markdown: ``*``/``_``/backticks/links must close (unescaped '_' bites)."""
    out = _TextBuilder()
    i, n = 0, len(text)
    markers = {"*": "bold", "_": "italic", "`": "code"}
    while i < n:
        ch = text[i]
        if ch == "\\" and i + 1 < n and text[i + 1] in "*_`[":
            out.add(text[i + 1])
            i += 2
            continue
        if text.startswith("```", i) or ch in markers or ch == "[":
            offset = _byte_offset(text, i)
            close = "```" if text.startswith("```", i) else ("]" if ch == "[" else ch)
            end = text.find(close, i + len(close))
            if end < 0:
                raise _entity_error(
                    f"Can't find end of the entity starting at byte offset {offset}"
                )
            inner = text[i + len(close) : end]
            start = out.pos
            if close == "]":
                target = _read_link_target(text, end + 1, escape=False)
                out.add(inner)
                if target is None:
                    i = end + 1
                    continue
                out.close(start, {"type": "text_link", "url": target[0]})
                i = target[1]
                continue
            out.add(inner)
            out.close(start, {"type": "pre" if close == "```" else markers[ch]})
            i = end + len(close)
            continue
        out.add(ch)
        i += 1
    return out.result()


def render_text(
    text: str, parse_mode: str | None, entities: list[JSON] | None = None
) -> tuple[str, list[JSON]]:
    """Turns a bot's text + parse_mode into what the user sees (text + entities)."""
    mode = (parse_mode or "").lower()
    if mode == "html":
        return parse_html(text)
    if mode == "markdownv2":
        return parse_markdown_v2(text)
    if mode == "markdown":
        return parse_markdown_legacy(text)
    if mode:
        raise _bad(f"unsupported parse_mode {parse_mode!r}")
    return text, list(entities or [])


# ----------------------------------------------------------------------- internals


class _Signal:
    """Broadcast wake-up: every waiter wakes on the next ``notify()``.

    Callers re-check their condition after waking, so spurious wake-ups are fine.
    """

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout: float) -> bool:
        event = self._event  # grabbed synchronously, so no notify can be missed
        try:
            await asyncio.wait_for(event.wait(), max(timeout, 0.0))
        except TimeoutError:
            return False
        return True


class LogView(list[JSON]):
    """A snapshot list that can also be called, so ``fake.requests`` and
    ``fake.requests()`` both work (tests in the tree use either style)."""

    def __call__(self) -> list[JSON]:
        return list(self)


@dataclass
class _Pending:
    """An update waiting to be fetched (polling) or delivered (webhook)."""

    update: JSON
    key: object  # per-chat ordering key for webhook delivery
    forced: bool = False  # a re-sent (duplicate) id that must be delivered once
    returned: int = 0
    in_flight: bool = False

    @property
    def update_id(self) -> int:
        return int(self.update["update_id"])

    @property
    def kind(self) -> str:
        return next((k for k in self.update if k != "update_id"), "")


@dataclass
class _FailNext:
    status: int
    times: int
    retry_after: int
    description: str | None
    after_processing: bool


@dataclass
class _FailRatio:
    ratio: float
    status: int
    retry_after: int
    rng: random.Random


@dataclass
class _Webhook:
    url: str
    secret_token: str | None
    max_connections: int
    ip_address: str | None
    has_custom_certificate: bool
    workers: list[asyncio.Task[None]] = field(default_factory=list)
    last_error_date: int | None = None
    last_error_message: str | None = None


@dataclass
class _StoredFile:
    file_id: str
    file_unique_id: str
    file_path: str
    content: bytes


@dataclass
class _Upload:
    """A file uploaded in a multipart body (``attach://`` or direct field)."""

    filename: str
    content: bytes
    content_type: str


def _coerce_form_value(key: str, value: str) -> Any:
    """Form fields are strings; aiogram JSON-encodes everything that is not text."""
    if key in _TEXT_KEYS:
        return value
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    try:
        return json.loads(value)
    except ValueError:
        return value


def _as_int(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise _bad(f"invalid {name} specified")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    raise _bad(f"invalid {name} specified")


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() in ("true", "1")
    return bool(value)


def _update_key(update: JSON) -> object:
    """The chat an update belongs to (webhook deliveries are ordered per chat)."""
    for kind, body in update.items():
        if kind == "update_id" or not isinstance(body, dict):
            continue
        chat = body.get("chat") or (body.get("message") or {}).get("chat")
        if isinstance(chat, dict) and "id" in chat:
            return ("chat", chat["id"])
        sender = body.get("from")
        if isinstance(sender, dict) and "id" in sender:
            return ("chat", sender["id"])
    return ("update", update.get("update_id"))


def _inline_keyboard(markup: Any) -> JSON | None:
    if isinstance(markup, dict) and "inline_keyboard" in markup:
        return markup
    return None


def _buttons(markup: Any) -> Iterable[JSON]:
    keyboard = _inline_keyboard(markup)
    for row in (keyboard or {}).get("inline_keyboard", []):
        yield from row


# ------------------------------------------------------------------------ the fake


class FakeBotAPI:
    """In-process fake Telegram Bot API server plus test controls.

    Memory is bounded by the ``max_*`` limits (defaults comfortably hold
    200 users x 50 turns); confirmed updates are dropped, as on Telegram.
    """

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_username: str = "front_door_test_bot",
        bot_first_name: str = "Front Door",
        strict_chats: bool = True,
        validate_markup: bool = True,
        webhook_retries: int = 3,
        webhook_retry_delay: float = 0.05,
        webhook_timeout: float = 10.0,
        first_update_id: int = 100_000,
        max_log: int = 100_000,
        max_sent_per_chat: int = 5_000,
        max_messages_per_chat: int = 1_000,
        max_pending_updates: int = 100_000,
        max_files: int = 2_000,
    ) -> None:
        left, sep, right = token.partition(":")
        if not (sep and left.isdigit() and right):
            raise ValueError("token must look like '<digits>:<secret>' (aiogram checks this)")
        self.token = token
        self.bot_id = int(left)
        self.bot_user: JSON = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
        }
        self.strict_chats = strict_chats
        self.validate_markup = validate_markup
        self.webhook_retries = webhook_retries
        self.webhook_retry_delay = webhook_retry_delay
        self.webhook_timeout = webhook_timeout
        self.base_url = ""
        self._first_update_id = first_update_id
        self._max_log = max_log
        self._max_sent_per_chat = max_sent_per_chat
        self._max_messages_per_chat = max_messages_per_chat
        self._max_pending = max_pending_updates
        self._max_files = max_files
        self._runner: web.AppRunner | None = None
        self._client: ClientSession | None = None
        self._closing = False
        self._methods: dict[str, Handler] = self._build_method_table()
        self._controls: dict[str, Callable[..., Any]] = self._build_control_table()
        self._reset_state()

    # ------------------------------------------------------------------ lifecycle

    def _reset_state(self) -> None:
        self._last_update_id = self._first_update_id - 1
        self._pending: list[_Pending] = []
        self._allowed_updates: list[str] | None = None
        self._dropped_updates = 0
        self._poll_waiter: asyncio.Future[None] | None = None
        self._webhook: _Webhook | None = None
        self._inflight_keys: set[object] = set()
        self._users: dict[int, JSON] = {}
        self._chats: dict[int, JSON] = {}
        self._blocked: set[int] = set()
        self._next_message_id: dict[int, int] = {}
        self._messages: dict[int, OrderedDict[int, JSON]] = {}
        self._reply_keyboards: dict[int, JSON | None] = {}
        self._sent: deque[JSON] = deque(maxlen=self._max_log)
        self._sent_by_chat: dict[int, deque[JSON]] = {}
        self._requests: deque[JSON] = deque(maxlen=self._max_log)
        self._callbacks_answered: deque[JSON] = deque(maxlen=self._max_log)
        self._chat_actions: deque[JSON] = deque(maxlen=self._max_log)
        self._deliveries: deque[JSON] = deque(maxlen=self._max_log)
        self._callback_queries: OrderedDict[str, JSON] = OrderedDict()
        self._callback_ids = itertools.count(4_000_000_000_000_000_001)
        self._files: OrderedDict[str, _StoredFile] = OrderedDict()
        self._file_paths: dict[str, str] = {}
        self._file_ids = itertools.count(1)
        self._commands: dict[tuple[str, str], list[JSON]] = {}
        self._menu_buttons: dict[int | None, JSON] = {}
        self._bot_texts: dict[tuple[str, str], str] = {}
        self._fail_next: dict[str, deque[_FailNext]] = {}
        self._fail_ratio: dict[str, _FailRatio] = {}
        self._latency: dict[str, float] = {}
        self._updates_signal = _Signal()
        self._changed = _Signal()
        self._chat_signals: dict[int, _Signal] = {}

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Starts serving; returns (and sets) ``base_url``."""
        if self._runner is not None:
            raise RuntimeError("FakeBotAPI already started")
        self._closing = False
        app = web.Application(client_max_size=60 * 1024 * 1024)  # uploads: 50 MB on Telegram
        app.router.add_route("*", "/bot{token}/{method}", self._handle_bot)
        app.router.add_route("GET", "/file/bot{token}/{path:.+}", self._handle_file)
        app.router.add_route("GET", "/_control", self._handle_control_index)
        app.router.add_route("GET", "/_control/", self._handle_control_index)
        app.router.add_route("*", "/_control/{name}", self._handle_control)
        # handler_cancellation: a client that hangs up on a long poll frees it at once.
        runner = web.AppRunner(
            app, shutdown_timeout=2.0, handler_cancellation=True, access_log=None
        )
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runner = runner
        bound_port = runner.addresses[0][1]
        self.base_url = f"http://{host}:{bound_port}"
        if self._webhook is not None:  # restarted after stop(): resume deliveries
            self._spawn_workers(self._webhook)
        return self.base_url

    async def stop(self) -> None:
        """Wakes pending long polls, stops webhook workers, closes the server."""
        self._closing = True
        self._updates_signal.notify()
        if self._webhook is not None:
            await self._stop_workers(self._webhook)
        if self._client is not None:
            await self._client.close()
            self._client = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeBotAPI:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def make_bot(self, **kwargs: Any) -> Bot:
        """An aiogram ``Bot`` wired to this fake (convenience for tests)."""
        from aiogram import Bot
        from aiogram.client.session.aiohttp import AiohttpSession
        from aiogram.client.telegram import TelegramAPIServer

        if not self.base_url:
            raise RuntimeError("start() the fake first")
        session = AiohttpSession(api=TelegramAPIServer.from_base(self.base_url))
        return Bot(self.token, session=session, **kwargs)

    # ------------------------------------------------------------- HTTP: bot API

    async def _handle_bot(self, request: web.Request) -> web.Response:
        started = time.monotonic()
        method = request.match_info["method"]
        name = method
        chat_id: Any = None
        try:
            if request.match_info["token"] != self.token:
                raise ApiError(401, "Unauthorized")
            handler = self._methods.get(method.lower())
            if handler is None:
                raise ApiError(404, "Not Found: method not found")
            name = handler.__name__.removeprefix("_m_")
            params = await self._read_params(request)
            chat_id = params.get("chat_id")
            result = await self._invoke(name, handler, params)
            body: JSON = {"ok": True, "result": result}
            if name in ("setWebhook", "deleteWebhook"):
                body["description"] = self._webhook_description
            status = 200
        except ApiError as exc:
            body, status = exc.body(), exc.status
        self._log_request(name, status, started, chat_id)
        return web.json_response(body, status=status)

    async def _invoke(self, name: str, handler: Handler, params: JSON) -> Any:
        """Runs a bot method with injected latency and faults applied."""
        delay = self._latency.get(name, self._latency.get("*", 0.0))
        if delay > 0:
            await asyncio.sleep(delay)
        fault = self._take_fault(name)
        if fault is not None and not fault[1]:
            raise fault[0]
        result = await handler(params)
        if fault is not None:
            raise fault[0]  # processed, but the caller sees an error (lost response)
        return result

    def _log_request(self, method: str, status: int, started: float, chat_id: Any) -> None:
        self._requests.append(
            {
                "method": method,
                "time": time.time(),
                "duration": time.monotonic() - started,
                "status": status,
                "chat_id": chat_id,
            }
        )

    async def _read_params(self, request: web.Request) -> JSON:
        """Merges query string and JSON / urlencoded / multipart body into typed params."""
        params: JSON = {k: _coerce_form_value(k, v) for k, v in request.query.items()}
        uploads: dict[str, _Upload] = {}
        if request.body_exists:
            ctype = request.content_type
            if ctype == "application/json":
                try:
                    data = await request.json()
                except ValueError as exc:
                    raise _bad("can't parse JSON object") from exc
                if not isinstance(data, dict):
                    raise _bad("JSON object expected")
                for key, value in data.items():
                    if key in _JSON_KEYS and isinstance(value, str):
                        with contextlib.suppress(ValueError):
                            value = json.loads(value)
                    params[key] = value
            elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
                form = await request.post()
                for key, value in form.items():
                    if isinstance(value, web.FileField):
                        uploads[key] = _Upload(
                            value.filename, value.file.read(), value.content_type
                        )
                    else:
                        text = value if isinstance(value, str) else bytes(value).decode()
                        params[key] = _coerce_form_value(key, text)
        for key, value in list(params.items()):
            if isinstance(value, str) and value.startswith("attach://"):
                upload = uploads.get(value[len("attach://") :])
                if upload is None:
                    raise _bad(f"file {value!r} not found in the request")
                params[key] = upload
        for key, upload in uploads.items():
            params.setdefault(key, upload)
        chat = params.get("chat_id")
        if isinstance(chat, str) and re.fullmatch(r"-?\d+", chat):
            params["chat_id"] = int(chat)
        return params

    async def _handle_file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response(ApiError(401, "Unauthorized").body(), status=401)
        file_id = self._file_paths.get(request.match_info["path"])
        stored = self._files.get(file_id) if file_id else None
        if stored is None:
            return web.json_response(ApiError(404, "Not Found").body(), status=404)
        return web.Response(body=stored.content, content_type="application/octet-stream")

    # ---------------------------------------------------------------- faults

    def fail_next(
        self,
        method: str,
        status: int = 429,
        times: int = 1,
        retry_after: int = 1,
        *,
        description: str | None = None,
        after_processing: bool = False,
    ) -> None:
        """The next ``times`` calls of ``method`` ("*" = any) fail with ``status``.

        ``after_processing=True`` applies the call and *then* returns the error,
        simulating a lost response (the message was sent, the bot thinks not).
        """
        self._fail_next.setdefault(method.lower(), deque()).append(
            _FailNext(status, times, retry_after, description, after_processing)
        )

    def fail_ratio(
        self,
        method: str,
        ratio: float,
        status: int = 429,
        seed: int | None = None,
        retry_after: int = 1,
    ) -> None:
        """Storm mode: each call of ``method`` ("*" = any) fails with probability ``ratio``."""
        if not 0.0 <= ratio <= 1.0:
            raise ValueError("ratio must be within [0, 1]")
        self._fail_ratio[method.lower()] = _FailRatio(
            ratio, status, retry_after, random.Random(seed)
        )

    def reset_faults(self) -> None:
        """Clears fail_next / fail_ratio rules and injected latency."""
        self._fail_next.clear()
        self._fail_ratio.clear()
        self._latency.clear()

    def set_latency(self, method: str, seconds: float) -> None:
        """Adds ``seconds`` of server-side delay to ``method`` ("*" = any)."""
        self._latency[method if method == "*" else self._canonical(method)] = seconds

    def _canonical(self, method: str) -> str:
        handler = self._methods.get(method.lower())
        return handler.__name__.removeprefix("_m_") if handler else method

    def _take_fault(self, name: str) -> tuple[ApiError, bool] | None:
        for key in (name.lower(), "*"):
            queue = self._fail_next.get(key)
            if queue:
                rule = queue[0]
                rule.times -= 1
                if rule.times <= 0:
                    queue.popleft()
                error = _fault_error(rule.status, rule.retry_after, rule.description)
                return error, rule.after_processing
        for key in (name.lower(), "*"):
            storm = self._fail_ratio.get(key)
            if storm is not None and storm.rng.random() < storm.ratio:
                return _fault_error(storm.status, storm.retry_after, None), False
        return None

    # ------------------------------------------------------------ users & chats

    def _touch_user(
        self,
        chat_id: int,
        language_code: str | None,
        first_name: str | None,
        last_name: str | None = None,
        username: str | None = None,
    ) -> JSON:
        """Creates/updates a private-chat user (chat.id == user.id, as on Telegram)."""
        user = self._users.get(chat_id)
        if user is None:
            user = {"id": chat_id, "is_bot": False, "first_name": first_name or f"User{chat_id}"}
            self._users[chat_id] = user
        if first_name:
            user["first_name"] = first_name
        if last_name:
            user["last_name"] = last_name
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        chat: JSON = {"id": chat_id, "type": "private", "first_name": user["first_name"]}
        for key in ("last_name", "username"):
            if key in user:
                chat[key] = user[key]
        self._chats[chat_id] = chat
        return user

    def block_user(self, chat_id: int, blocked: bool = True) -> None:
        """Sends to this chat then fail with 403 'bot was blocked by the user'."""
        if blocked:
            self._blocked.add(chat_id)
        else:
            self._blocked.discard(chat_id)

    def _require_chat(self, chat_id: Any) -> JSON:
        if chat_id is None or chat_id == "":
            raise _bad("chat_id is empty")
        if not isinstance(chat_id, int) or isinstance(chat_id, bool):
            raise _bad("chat not found")
        if chat_id in self._blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        chat = self._chats.get(chat_id)
        if chat is None:
            if self.strict_chats or chat_id <= 0:
                raise _bad("chat not found")
            self._touch_user(chat_id, None, None)
            chat = self._chats[chat_id]
        return chat

    def _new_message(self, chat_id: int, sender: JSON, content: JSON) -> JSON:
        """Stores a message (either direction); ids are sequential per chat."""
        message_id = self._next_message_id.get(chat_id, 1)
        self._next_message_id[chat_id] = message_id + 1
        message: JSON = {
            "message_id": message_id,
            "from": dict(sender),
            "chat": dict(self._chats[chat_id]),
            "date": int(time.time()),
            **content,
        }
        box = self._messages.setdefault(chat_id, OrderedDict())
        box[message_id] = message
        while len(box) > self._max_messages_per_chat:
            box.popitem(last=False)
        return message

    def _find_message(self, chat_id: int, message_id: Any, action: str) -> JSON:
        if message_id is None:
            raise _bad("message identifier is not specified")
        mid = _as_int(message_id, "message identifier")
        message = self._messages.get(chat_id, OrderedDict()).get(mid)
        if message is None:
            raise _bad(f"message to {action} not found")
        return message

    # ------------------------------------------------------------- update queue

    def _enqueue(self, update: JSON, *, forced: bool = False) -> int:
        if "update_id" not in update:  # ids only grow, even after push_raw(high id)
            update = {"update_id": self._last_update_id + 1, **update}
        self._last_update_id = max(self._last_update_id, update["update_id"])
        self._pending.append(_Pending(update, _update_key(update), forced=forced))
        if len(self._pending) > self._max_pending:
            del self._pending[: len(self._pending) - self._max_pending]
        self._updates_signal.notify()
        self._changed.notify()
        return int(update["update_id"])

    def _allowed(self, kind: str) -> bool:
        if self._allowed_updates:
            return kind in self._allowed_updates
        return kind not in _DEFAULT_EXCLUDED_UPDATES

    def _drop_disallowed(self) -> None:
        """Telegram never queues types outside allowed_updates; drop them on sight."""
        kept = [p for p in self._pending if p.in_flight or self._allowed(p.kind)]
        self._dropped_updates += len(self._pending) - len(kept)
        self._pending = kept

    def _confirm(self, offset: int) -> None:
        if offset < 0:
            self._pending = self._pending[offset:]
        elif offset > 0:
            self._pending = [
                p for p in self._pending if p.update_id >= offset or (p.forced and p.returned == 0)
            ]

    def _take_batch(self, limit: int) -> list[JSON]:
        self._drop_disallowed()
        # Re-sent (stale) ids go first so aiogram's next offset still confirms them.
        ordered = [p for p in self._pending if p.forced and p.returned == 0]
        ordered += [p for p in self._pending if not (p.forced and p.returned == 0)]
        batch = ordered[:limit]
        for p in batch:
            p.returned += 1
        return [copy.deepcopy(p.update) for p in batch]

    @property
    def allowed_updates(self) -> list[str] | None:
        """The allowed_updates last set by getUpdates/setWebhook (None = Telegram default)."""
        return list(self._allowed_updates) if self._allowed_updates else None

    @property
    def pending_updates(self) -> LogView:
        """Updates not yet confirmed (polling) or delivered (webhook)."""
        return LogView(copy.deepcopy(p.update) for p in self._pending)

    # ---------------------------------------------------------- push (user side)

    def push_text(
        self,
        chat_id: int,
        text: str,
        *,
        language_code: str | None = "en",
        first_name: str | None = None,
        last_name: str | None = None,
        username: str | None = None,
        entities: list[JSON] | None = None,
    ) -> int:
        """A user sends a text message; returns the update_id."""
        content: JSON = {"text": text}
        if entities:
            content["entities"] = entities
        return self._push_message(chat_id, content, language_code, first_name, last_name, username)

    def push_command(
        self,
        chat_id: int,
        command: str,
        args: str | None = None,
        *,
        language_code: str | None = "en",
        first_name: str | None = None,
        last_name: str | None = None,
        username: str | None = None,
    ) -> int:
        """A user sends ``/command [args]`` with a bot_command entity (deep links too)."""
        command = command if command.startswith("/") else f"/{command}"
        text = f"{command} {args}" if args else command
        entity = {"type": "bot_command", "offset": 0, "length": _u16(command.split()[0])}
        return self._push_message(
            chat_id,
            {"text": text, "entities": [entity]},
            language_code,
            first_name,
            last_name,
            username,
        )

    def push_sticker(
        self,
        chat_id: int,
        emoji: str = "\N{THUMBS UP SIGN}",
        *,
        language_code: str | None = "en",
        first_name: str | None = None,
    ) -> int:
        """A user sends a sticker (bots must cope with non-text input)."""
        stored = self._store_file(b"RIFF\x00\x00\x00\x00WEBP", "stickers", "webp")
        sticker = {
            **self._file_ref(stored),
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
        }
        return self._push_message(chat_id, {"sticker": sticker}, language_code, first_name)

    def push_photo(
        self,
        chat_id: int,
        caption: str | None = None,
        *,
        content: bytes | None = None,
        language_code: str | None = "en",
        first_name: str | None = None,
    ) -> int:
        """A user sends a photo (three sizes, like Telegram), optionally captioned."""
        data = content if content is not None else b"\xff\xd8\xff\xe0fake-jpeg\xff\xd9"
        sizes = []
        for width, height in ((90, 67), (320, 240), (1280, 960)):
            stored = self._store_file(data, "photos", "jpg")
            sizes.append({**self._file_ref(stored), "width": width, "height": height})
        body: JSON = {"photo": sizes}
        if caption:
            body["caption"] = caption
        return self._push_message(chat_id, body, language_code, first_name)

    def push_voice(
        self,
        chat_id: int,
        duration: int = 3,
        *,
        content: bytes | None = None,
        language_code: str | None = "en",
        first_name: str | None = None,
    ) -> int:
        """A user sends a voice note."""
        stored = self._store_file(
            content if content is not None else b"OggS\x00fake-voice", "voice", "oga"
        )
        voice = {**self._file_ref(stored), "duration": duration, "mime_type": "audio/ogg"}
        return self._push_message(chat_id, {"voice": voice}, language_code, first_name)

    def push_document(
        self,
        chat_id: int,
        file_name: str = "document.pdf",
        *,
        mime_type: str = "application/pdf",
        caption: str | None = None,
        content: bytes | None = None,
        language_code: str | None = "en",
        first_name: str | None = None,
    ) -> int:
        """A user sends a document."""
        ext = file_name.rsplit(".", 1)[-1] if "." in file_name else "bin"
        stored = self._store_file(
            content if content is not None else b"%PDF-1.4 fake", "documents", ext
        )
        document = {**self._file_ref(stored), "file_name": file_name, "mime_type": mime_type}
        body: JSON = {"document": document}
        if caption:
            body["caption"] = caption
        return self._push_message(chat_id, body, language_code, first_name)

    def push_edited_text(
        self,
        chat_id: int,
        message_id: int,
        text: str,
        *,
        language_code: str | None = "en",
        first_name: str | None = None,
    ) -> int:
        """The user edits one of their earlier messages (an ``edited_message`` update)."""
        user = self._touch_user(chat_id, language_code, first_name)
        original = self._messages.get(chat_id, OrderedDict()).get(message_id)
        if original is not None and original["from"]["id"] != chat_id:
            raise ValueError(f"message {message_id} in chat {chat_id} is not the user's")
        now = int(time.time())
        message: JSON = {
            "message_id": message_id,
            "from": dict(user),
            "chat": dict(self._chats[chat_id]),
            "date": original["date"] if original else now,
            "edit_date": now,
            "text": text,
        }
        if original is not None:
            original.update({"text": text, "edit_date": now})
            original.pop("entities", None)
        return self._enqueue({"edited_message": message})

    def push_callback(
        self,
        chat_id: int,
        data: str,
        message_id: int | None = None,
        *,
        language_code: str | None = "en",
        first_name: str | None = None,
    ) -> int:
        """The user taps an inline button.

        With ``message_id=None`` the query is attached to the newest bot message
        whose keyboard has a button with this ``data`` (else the newest bot
        message with any inline keyboard), as a real user would tap it.
        """
        user = self._touch_user(chat_id, language_code, first_name)
        box = self._messages.get(chat_id, OrderedDict())
        if message_id is None:
            candidates = [
                m
                for m in reversed(box.values())
                if m["from"]["id"] == self.bot_id and _inline_keyboard(m.get("reply_markup"))
            ]
            exact = [
                m
                for m in candidates
                if any(b.get("callback_data") == data for b in _buttons(m.get("reply_markup")))
            ]
            if not candidates:
                raise LookupError(f"no bot message with an inline keyboard in chat {chat_id}")
            message = (exact or candidates)[0]
        else:
            found = box.get(message_id)
            if found is None:
                raise LookupError(f"message {message_id} not found in chat {chat_id}")
            message = found
        query_id = str(next(self._callback_ids))
        self._callback_queries[query_id] = {
            "chat_id": chat_id,
            "message_id": message["message_id"],
            "data": data,
            "answered": False,
        }
        while len(self._callback_queries) > self._max_log:
            self._callback_queries.popitem(last=False)
        query = {
            "id": query_id,
            "from": dict(user),
            "message": copy.deepcopy(message),
            "chat_instance": str(-(abs(chat_id) * 7919 + self.bot_id) % 10**19),
            "data": data,
        }
        return self._enqueue({"callback_query": query})

    def push_raw(self, update: JSON) -> int:
        """Queues an update verbatim; re-using an update_id re-delivers it (duplicates)."""
        update = copy.deepcopy(update)
        forced = "update_id" in update and int(update["update_id"]) <= self._last_update_id
        return self._enqueue(update, forced=forced)

    def _push_message(
        self,
        chat_id: int,
        content: JSON,
        language_code: str | None,
        first_name: str | None,
        last_name: str | None = None,
        username: str | None = None,
    ) -> int:
        if chat_id <= 0:
            raise ValueError("private chats have positive ids (chat.id == user.id)")
        user = self._touch_user(chat_id, language_code, first_name, last_name, username)
        message = self._new_message(chat_id, user, content)
        return self._enqueue({"message": copy.deepcopy(message)})

    # ------------------------------------------------------------------ files

    def _store_file(self, content: bytes, folder: str, ext: str) -> _StoredFile:
        n = next(self._file_ids)
        stored = _StoredFile(
            file_id=f"FAKE{folder[:3].upper()}{n:010d}",
            file_unique_id=f"U{n:010d}",
            file_path=f"{folder}/file_{n}.{ext}",
            content=content,
        )
        self._files[stored.file_id] = stored
        self._file_paths[stored.file_path] = stored.file_id
        while len(self._files) > self._max_files:
            _, old = self._files.popitem(last=False)
            self._file_paths.pop(old.file_path, None)
        return stored

    @staticmethod
    def _file_ref(stored: _StoredFile) -> JSON:
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.content),
        }

    # ------------------------------------------------------------ recording

    def _record(self, method: str, chat_id: int, message: JSON | None, **extra: Any) -> JSON:
        message_id = message["message_id"] if message else extra.pop("message_id", None)
        entry: JSON = {
            "method": method,
            "chat_id": chat_id,
            "message_id": message_id,
            "text": None,
            "plain_text": message.get("text") if message else None,
            "caption": message.get("caption") if message else None,
            "parse_mode": None,
            "reply_markup": None,
            "time": time.time(),
            "message": copy.deepcopy(message) if message else None,
            **extra,
        }
        self._sent.append(entry)
        per_chat = self._sent_by_chat.setdefault(chat_id, deque(maxlen=self._max_sent_per_chat))
        per_chat.append(entry)
        signal_ = self._chat_signals.get(chat_id)
        if signal_ is not None:
            signal_.notify()
        self._changed.notify()
        return entry

    def sent(
        self, chat_id: int | None = None, methods: Collection[str] | None = None
    ) -> list[JSON]:
        """Outgoing bot actions in order (sendMessage, send*, edit*, deleteMessage).

        Each is a dict with method, chat_id, message_id, text (as the bot sent
        it, markup included), plain_text (as the user sees it), parse_mode,
        reply_markup (parsed dict), params and a message snapshot.
        """
        source = self._sent if chat_id is None else self._sent_by_chat.get(chat_id, ())
        return [e for e in source if methods is None or e["method"] in methods]

    def messages(self, chat_id: int) -> list[JSON]:
        """The chat as the user sees it now: both sides, after edits and deletions."""
        return [copy.deepcopy(m) for m in self._messages.get(chat_id, {}).values()]

    def reply_keyboard(self, chat_id: int) -> JSON | None:
        """The reply keyboard currently shown to the user (None if removed/never set)."""
        return self._reply_keyboards.get(chat_id)

    def commands(self, scope: JSON | None = None, language_code: str = "") -> list[JSON]:
        """Commands stored by setMyCommands for a scope/language."""
        return list(self._commands.get(self._commands_key(scope, language_code), []))

    @property
    def callbacks_answered(self) -> LogView:
        """answerCallbackQuery calls: callback_query_id, text, show_alert, data, chat_id..."""
        return LogView(self._callbacks_answered)

    @property
    def requests(self) -> LogView:
        """Every bot API request: method, time, duration, status, chat_id."""
        return LogView(self._requests)

    @property
    def chat_actions(self) -> LogView:
        """sendChatAction calls (kept out of ``sent`` so message counts stay simple)."""
        return LogView(self._chat_actions)

    @property
    def webhook_deliveries(self) -> LogView:
        """Each webhook delivery attempt: update_id, attempt, status or error, time."""
        return LogView(self._deliveries)

    def stats(self) -> JSON:
        """Counters for benchmarks: requests per method/status, queue sizes."""
        by_method: dict[str, int] = {}
        by_status: dict[str, int] = {}
        for r in self._requests:
            by_method[r["method"]] = by_method.get(r["method"], 0) + 1
            by_status[str(r["status"])] = by_status.get(str(r["status"]), 0) + 1
        return {
            "requests": len(self._requests),
            "requests_by_method": by_method,
            "requests_by_status": by_status,
            "sent": len(self._sent),
            "pending_updates": len(self._pending),
            "dropped_updates": self._dropped_updates,
            "callbacks_answered": len(self._callbacks_answered),
            "users": len(self._users),
            "webhook": self._webhook.url if self._webhook else None,
        }

    def reset(self) -> None:
        """Forgets all state (users, messages, logs, faults, webhook) but keeps serving."""
        if self._webhook is not None:
            for task in self._webhook.workers:
                task.cancel()
        if self._poll_waiter is not None and not self._poll_waiter.done():
            self._poll_waiter.set_result(None)
        old_updates, old_changed = self._updates_signal, self._changed
        self._reset_state()
        old_updates.notify()
        old_changed.notify()

    # ---------------------------------------------------------------- waiting

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
        """Waits until ``predicate()`` is truthy (re-checked on every state change)."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"condition not met within {timeout}s")
            await self._changed.wait(min(remaining, 0.5))

    async def wait_for_sent(
        self,
        chat_id: int,
        count: int = 1,
        timeout: float = 10.0,
        *,
        methods: Collection[str] | None = None,
    ) -> list[JSON]:
        """Waits until ``sent(chat_id, methods)`` has at least ``count`` entries."""
        deadline = time.monotonic() + timeout
        signal_ = self._chat_signals.setdefault(chat_id, _Signal())
        while True:
            entries = self.sent(chat_id, methods)
            if len(entries) >= count:
                return entries
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                texts = [e.get("plain_text") or e["method"] for e in entries]
                raise TimeoutError(
                    f"chat {chat_id}: wanted {count} sent, got {len(entries)} within "
                    f"{timeout}s: {texts!r}"
                )
            await signal_.wait(min(remaining, 0.5))

    # ---------------------------------------------------------------- bot methods

    def _build_method_table(self) -> dict[str, Handler]:
        handlers = [
            self._m_getMe, self._m_getUpdates, self._m_setWebhook, self._m_deleteWebhook,
            self._m_getWebhookInfo, self._m_sendMessage, self._m_editMessageText,
            self._m_editMessageCaption, self._m_editMessageReplyMarkup,
            self._m_deleteMessage, self._m_deleteMessages, self._m_answerCallbackQuery,
            self._m_sendChatAction, self._m_setMyCommands, self._m_getMyCommands,
            self._m_deleteMyCommands, self._m_setChatMenuButton, self._m_getChatMenuButton,
            self._m_close, self._m_logOut, self._m_getFile, self._m_getChat,
            self._m_sendPhoto, self._m_sendDocument, self._m_sendVoice, self._m_sendAudio,
            self._m_sendVideo, self._m_sendAnimation, self._m_sendSticker,
            self._m_setMyDescription, self._m_getMyDescription,
            self._m_setMyShortDescription, self._m_getMyShortDescription,
            self._m_setMyName, self._m_getMyName,
        ]  # fmt: skip
        return {h.__name__.removeprefix("_m_").lower(): h for h in handlers}

    async def call_method(self, method: str, params: JSON | None = None) -> Any:
        """Runs a bot method in-process (used for webhook replies); raises ApiError."""
        handler = self._methods.get(method.lower())
        if handler is None:
            raise ApiError(404, "Not Found: method not found")
        return await handler(dict(params or {}))

    async def _m_getMe(self, p: JSON) -> Any:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _m_close(self, p: JSON) -> Any:
        return True

    async def _m_logOut(self, p: JSON) -> Any:
        return True

    async def _m_getUpdates(self, p: JSON) -> Any:
        if self._webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = _as_int(p.get("offset", 0), "offset")
        limit = _as_int(p.get("limit", 100), "limit")
        limit = 100 if limit <= 0 else min(limit, 100)
        timeout = max(0, _as_int(p.get("timeout", 0), "timeout"))
        allowed = p.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = [str(a) for a in allowed] or None
        self._confirm(offset)
        previous = self._poll_waiter
        if previous is not None and not previous.done():
            previous.set_result(None)  # Telegram terminates the older poll with 409
            self._updates_signal.notify()
        mine: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._poll_waiter = mine
        deadline = time.monotonic() + timeout
        try:
            while True:
                if mine.done():
                    raise ApiError(
                        409,
                        "Conflict: terminated by other getUpdates request; make sure that "
                        "only one bot instance is running",
                    )
                if self._webhook is not None:
                    raise ApiError(409, "Conflict: webhook was set while polling")
                batch = self._take_batch(limit)
                remaining = deadline - time.monotonic()
                if batch or remaining <= 0 or self._closing:
                    return batch
                await self._updates_signal.wait(remaining)
        finally:
            if self._poll_waiter is mine:
                self._poll_waiter = None

    # ----------------------------------------------------------------- webhook

    _webhook_description = ""

    async def _m_setWebhook(self, p: JSON) -> Any:
        url = str(p.get("url") or "")
        if not url:
            return await self._m_deleteWebhook(p)
        if not url.startswith(("http://", "https://")):
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        secret = p.get("secret_token")
        if secret is not None and not _SECRET_RE.match(str(secret)):
            raise _bad("secret token contains unallowed characters")
        max_connections = _as_int(p.get("max_connections", 40), "max_connections")
        if not 1 <= max_connections <= 100:
            raise _bad("bad webhook: max_connections must be between 1 and 100")
        if isinstance(p.get("allowed_updates"), list):
            self._allowed_updates = [str(a) for a in p["allowed_updates"]] or None
        if _as_bool(p.get("drop_pending_updates", False)):
            self._pending = [e for e in self._pending if e.in_flight]
        old = self._webhook
        new = _Webhook(
            url=url,
            secret_token=str(secret) if secret else None,
            max_connections=max_connections,
            ip_address=p.get("ip_address"),
            has_custom_certificate=isinstance(p.get("certificate"), _Upload),
        )
        same = old is not None and (old.url, old.secret_token, old.max_connections) == (
            new.url,
            new.secret_token,
            new.max_connections,
        )
        if same and old is not None:
            self._webhook_description = "Webhook is already set"
            return True
        if old is not None:
            await self._stop_workers(old)
        self._webhook = new
        self._spawn_workers(new)
        self._updates_signal.notify()  # a waiting getUpdates must now fail with 409
        self._webhook_description = "Webhook was set"
        return True

    async def _m_deleteWebhook(self, p: JSON) -> Any:
        old = self._webhook
        self._webhook = None
        if old is not None:
            await self._stop_workers(old)
        if _as_bool(p.get("drop_pending_updates", False)):
            self._pending = [e for e in self._pending if e.in_flight]
        self._webhook_description = (
            "Webhook was deleted" if old is not None else "Webhook is already deleted"
        )
        return True

    async def _m_getWebhookInfo(self, p: JSON) -> Any:
        hook = self._webhook
        info: JSON = {
            "url": hook.url if hook else "",
            "has_custom_certificate": bool(hook and hook.has_custom_certificate),
            "pending_update_count": len(self._pending),
        }
        if hook is not None:
            info["max_connections"] = hook.max_connections
            if hook.ip_address:
                info["ip_address"] = hook.ip_address
            if hook.last_error_date is not None:
                info["last_error_date"] = hook.last_error_date
                info["last_error_message"] = hook.last_error_message
        if self._allowed_updates:
            info["allowed_updates"] = list(self._allowed_updates)
        return info

    def _spawn_workers(self, hook: _Webhook) -> None:
        if self._client is None or self._client.closed:
            self._client = ClientSession(timeout=ClientTimeout(total=self.webhook_timeout))
        hook.workers = [
            asyncio.create_task(self._webhook_worker(hook), name=f"fake-webhook-{i}")
            for i in range(hook.max_connections)
        ]

    async def _stop_workers(self, hook: _Webhook) -> None:
        current = asyncio.current_task()
        others = [t for t in hook.workers if t is not current]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)
        hook.workers = []

    def _next_for_webhook(self) -> _Pending | None:
        """Oldest deliverable update whose chat has nothing in flight (per-chat order)."""
        self._drop_disallowed()
        blocked: set[object] = set(self._inflight_keys)
        for entry in self._pending:
            if entry.in_flight:
                continue
            if entry.key not in blocked:
                return entry
            blocked.add(entry.key)
        return None

    async def _webhook_worker(self, hook: _Webhook) -> None:
        while self._webhook is hook and not self._closing:
            entry = self._next_for_webhook()
            if entry is None:
                await self._updates_signal.wait(1.0)
                continue
            entry.in_flight = True
            self._inflight_keys.add(entry.key)
            try:
                done = await self._deliver(hook, entry)
            finally:
                entry.in_flight = False
                self._inflight_keys.discard(entry.key)
            if done:
                with contextlib.suppress(ValueError):
                    self._pending.remove(entry)
                self._changed.notify()
            self._updates_signal.notify()  # the chat is free: let another worker go on

    async def _deliver(self, hook: _Webhook, entry: _Pending) -> bool:
        """POSTs one update with retries; True when done (delivered or given up)."""
        headers = {"Content-Type": "application/json"}
        if hook.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = hook.secret_token
        payload = json.dumps(entry.update)
        for attempt in range(1, self.webhook_retries + 2):
            if self._webhook is not hook or self._closing or self._client is None:
                return False  # webhook changed: keep the update for whoever is next
            record: JSON = {"update_id": entry.update_id, "attempt": attempt, "time": time.time()}
            try:
                async with self._client.post(hook.url, data=payload, headers=headers) as resp:
                    body = await resp.read()
                    record["status"] = resp.status
                    self._deliveries.append(record)
                    if 200 <= resp.status < 300:
                        full_type = resp.headers.get("Content-Type", "")
                        await self._run_webhook_reply(resp.content_type, body, full_type)
                        return True
                    error = f"Wrong response from the webhook: {resp.status} {resp.reason}"
            except (ClientError, TimeoutError) as exc:
                record["error"] = f"{type(exc).__name__}: {exc}"
                self._deliveries.append(record)
                error = (
                    "Connection refused" if isinstance(exc, ClientError) else "Read timeout expired"
                )
            hook.last_error_date = int(time.time())
            hook.last_error_message = error
            self._changed.notify()
            if attempt <= self.webhook_retries:
                await asyncio.sleep(self.webhook_retry_delay * 2 ** (attempt - 1))
        log.warning("webhook: giving up on update %s", entry.update_id)
        return True

    async def _run_webhook_reply(self, content_type: str, body: bytes, full_type: str) -> None:
        """Telegram executes a method returned in the webhook response body."""
        params: JSON = {}
        if content_type == "application/json" and body.strip():
            with contextlib.suppress(ValueError):
                data = json.loads(body)
                if isinstance(data, dict):
                    params = data
        elif content_type == "multipart/form-data":
            params = self._parse_multipart_reply(body, full_type)
        method = params.pop("method", None)
        if not isinstance(method, str) or not method:
            return
        started = time.monotonic()
        status = 200
        try:
            await self.call_method(method, params)
        except ApiError as exc:
            status = exc.status
            log.info("webhook reply %s failed: %s", method, exc.description)
        self._log_request(self._canonical(method), status, started, params.get("chat_id"))

    @staticmethod
    def _parse_multipart_reply(body: bytes, content_type: str) -> JSON:
        """aiogram answers webhooks with multipart/form-data (method + fields)."""
        head = f"Content-Type: {content_type}\r\n\r\n".encode()
        parsed = BytesParser(policy=HTTP).parsebytes(head + body)
        params: JSON = {}
        uploads: dict[str, _Upload] = {}
        for part in parsed.walk():
            if part.is_multipart():
                continue
            name = part.get_param("name", header="content-disposition")
            if not isinstance(name, str):
                continue
            raw = part.get_payload(decode=True)
            data = raw if isinstance(raw, bytes) else b""
            filename = part.get_filename()
            if filename:
                uploads[name] = _Upload(filename, data, part.get_content_type())
            else:
                text = data.decode("utf-8")
                params[name] = text if name == "method" else _coerce_form_value(name, text)
        for key, value in list(params.items()):
            if isinstance(value, str) and value.startswith("attach://"):
                upload = uploads.get(value[len("attach://") :])
                if upload is not None:
                    params[key] = upload
        chat = params.get("chat_id")
        if isinstance(chat, str) and re.fullmatch(r"-?\d+", chat):
            params["chat_id"] = int(chat)
        return params

    # --------------------------------------------------------------- messages

    def _check_markup(self, markup: Any) -> JSON | None:
        if markup is None or markup == "":
            return None
        if not isinstance(markup, dict):
            raise _bad("can't parse reply keyboard markup JSON object")
        keyboard = markup.get("inline_keyboard")
        if keyboard is not None:
            if not isinstance(keyboard, list) or not all(isinstance(r, list) for r in keyboard):
                raise _bad('field "inline_keyboard" must be an Array of Arrays')
            for button in _buttons(markup):
                if not button.get("text"):
                    raise _bad("text buttons are unallowed in the inline keyboard")
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode()) <= 64:
                    raise _bad("BUTTON_DATA_INVALID")
                actions = set(button) - {"text"}
                if not actions:
                    raise _bad("text buttons are unallowed in the inline keyboard")
        return markup

    def _render(self, text: str, parse_mode: Any, entities: Any) -> tuple[str, list[JSON]]:
        if not self.validate_markup:
            return text, list(entities or []) if isinstance(entities, list) else []
        return render_text(
            text,
            parse_mode if isinstance(parse_mode, str) else None,
            entities if isinstance(entities, list) else None,
        )

    def _apply_reply_keyboard(self, chat_id: int, markup: JSON | None) -> None:
        if markup is None:
            return
        if "keyboard" in markup:
            self._reply_keyboards[chat_id] = markup
        elif markup.get("remove_keyboard"):
            self._reply_keyboards[chat_id] = None

    async def _m_sendMessage(self, p: JSON) -> Any:
        chat = self._require_chat(p.get("chat_id"))
        raw = p.get("text")
        if raw is None or raw == "":
            raise _bad("message text is empty")
        raw = str(raw)
        plain, entities = self._render(raw, p.get("parse_mode"), p.get("entities"))
        if not plain.strip():
            raise _bad("message text is empty")
        if len(plain) > 4096:
            raise _bad("message is too long")
        markup = self._check_markup(p.get("reply_markup"))
        content: JSON = {"text": plain}
        if entities:
            content["entities"] = entities
        if _inline_keyboard(markup):
            content["reply_markup"] = markup
        message = self._new_message(chat["id"], self.bot_user, content)
        self._apply_reply_keyboard(chat["id"], markup)
        self._record(
            "sendMessage",
            chat["id"],
            message,
            text=raw,
            parse_mode=p.get("parse_mode"),
            reply_markup=markup,
            params=p,
        )
        return copy.deepcopy(message)

    def _editable(self, p: JSON, action: str = "edit") -> JSON:
        if p.get("inline_message_id"):
            raise _bad("MESSAGE_ID_INVALID")
        chat = self._require_chat(p.get("chat_id"))
        message = self._find_message(chat["id"], p.get("message_id"), action)
        if message["from"]["id"] != self.bot_id:
            raise _bad("message can't be edited")
        return message

    async def _m_editMessageText(self, p: JSON) -> Any:
        message = self._editable(p)
        raw = p.get("text")
        if raw is None or raw == "":
            raise _bad("message text is empty")
        if "text" not in message:
            raise _bad("there is no text in the message to edit")
        raw = str(raw)
        plain, entities = self._render(raw, p.get("parse_mode"), p.get("entities"))
        if not plain.strip():
            raise _bad("message text is empty")
        if len(plain) > 4096:
            raise _bad("message is too long")
        markup = _inline_keyboard(self._check_markup(p.get("reply_markup")))
        if (plain, entities, markup) == (
            message.get("text"),
            message.get("entities", []),
            message.get("reply_markup"),
        ):
            raise _bad(_NOT_MODIFIED)
        return self._apply_edit(
            "editMessageText", message, {"text": plain, "entities": entities},
            markup, text=raw, parse_mode=p.get("parse_mode"), params=p,
        )  # fmt: skip

    async def _m_editMessageCaption(self, p: JSON) -> Any:
        message = self._editable(p)
        if "text" in message:
            raise _bad("there is no caption in the message to edit")
        raw = str(p.get("caption") or "")
        plain, entities = self._render(raw, p.get("parse_mode"), p.get("caption_entities"))
        if len(plain) > 1024:
            raise _bad("message caption is too long")
        markup = _inline_keyboard(self._check_markup(p.get("reply_markup")))
        if (plain or None, entities, markup) == (
            message.get("caption"),
            message.get("caption_entities", []),
            message.get("reply_markup"),
        ):
            raise _bad(_NOT_MODIFIED)
        return self._apply_edit(
            "editMessageCaption", message, {"caption": plain, "caption_entities": entities},
            markup, text=raw, parse_mode=p.get("parse_mode"), params=p,
        )  # fmt: skip

    async def _m_editMessageReplyMarkup(self, p: JSON) -> Any:
        message = self._editable(p)
        markup = _inline_keyboard(self._check_markup(p.get("reply_markup")))
        if markup == message.get("reply_markup"):
            raise _bad(_NOT_MODIFIED)
        return self._apply_edit("editMessageReplyMarkup", message, {}, markup, params=p)

    def _apply_edit(
        self, method: str, message: JSON, fields: JSON, markup: JSON | None, **extra: Any
    ) -> JSON:
        for key, value in fields.items():
            if value:
                message[key] = value
            else:
                message.pop(key, None)
        if markup:
            message["reply_markup"] = markup
        else:
            message.pop("reply_markup", None)  # editing without reply_markup drops the keyboard
        message["edit_date"] = int(time.time())
        self._record(method, message["chat"]["id"], message, reply_markup=markup, **extra)
        return copy.deepcopy(message)

    async def _m_deleteMessage(self, p: JSON) -> Any:
        chat = self._require_chat(p.get("chat_id"))
        message = self._find_message(chat["id"], p.get("message_id"), "delete")
        del self._messages[chat["id"]][message["message_id"]]
        self._record("deleteMessage", chat["id"], None, message_id=message["message_id"], params=p)
        return True

    async def _m_deleteMessages(self, p: JSON) -> Any:
        chat = self._require_chat(p.get("chat_id"))
        ids = p.get("message_ids")
        if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
            raise _bad("message_ids must be a non-empty array of at most 100 identifiers")
        box = self._messages.get(chat["id"], OrderedDict())
        for mid in ids:
            if box.pop(_as_int(mid, "message identifier"), None) is not None:
                self._record("deleteMessage", chat["id"], None, message_id=mid, params=p)
        return True

    async def _m_answerCallbackQuery(self, p: JSON) -> Any:
        query_id = str(p.get("callback_query_id") or "")
        query = self._callback_queries.get(query_id)
        if query is None or query["answered"]:
            raise _bad(_QUERY_TOO_OLD)
        query["answered"] = True
        self._callbacks_answered.append(
            {
                "callback_query_id": query_id,
                "text": p.get("text"),
                "show_alert": _as_bool(p.get("show_alert", False)),
                "url": p.get("url"),
                "cache_time": p.get("cache_time"),
                "chat_id": query["chat_id"],
                "message_id": query["message_id"],
                "data": query["data"],
                "time": time.time(),
            }
        )
        self._changed.notify()
        return True

    async def _m_sendChatAction(self, p: JSON) -> Any:
        chat = self._require_chat(p.get("chat_id"))
        action = p.get("action")
        if action not in _CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        self._chat_actions.append({"chat_id": chat["id"], "action": action, "time": time.time()})
        return True

    async def _send_media(self, method: str, kind: str, p: JSON) -> Any:
        chat = self._require_chat(p.get("chat_id"))
        source = p.get(kind)
        if isinstance(source, _Upload):
            ext = source.filename.rsplit(".", 1)[-1] if "." in source.filename else "bin"
            stored = self._store_file(source.content, f"{kind}s", ext)
            file_name: str | None = source.filename
        elif isinstance(source, (str, int)) and str(source):
            ref = str(source)
            if ref.startswith(("http://", "https://")):
                stored = self._store_file(b"downloaded:" + ref.encode(), f"{kind}s", "bin")
            elif ref in self._files:
                stored = self._files[ref]
            else:
                raise _bad("wrong file identifier/HTTP URL specified")
            file_name = ref.rsplit("/", 1)[-1]
        else:
            raise _bad(f"there is no {kind} in the request")
        ref_obj = self._file_ref(stored)
        content: JSON
        if kind == "photo":
            content = {"photo": [{**ref_obj, "width": 1280, "height": 960}]}
        elif kind == "sticker":
            content = {"sticker": {**ref_obj, "type": "regular", "width": 512, "height": 512,
                                   "is_animated": False, "is_video": False}}  # fmt: skip
        elif kind in ("voice", "audio", "video", "animation"):
            extra = {"width": 640, "height": 480} if kind in ("video", "animation") else {}
            content = {
                kind: {**ref_obj, "duration": _as_int(p.get("duration", 1), "duration"), **extra}
            }
        else:
            content = {kind: {**ref_obj, "file_name": file_name or "file"}}
        raw_caption = p.get("caption")
        if raw_caption:
            plain, entities = self._render(
                str(raw_caption), p.get("parse_mode"), p.get("caption_entities")
            )
            if len(plain) > 1024:
                raise _bad("message caption is too long")
            content["caption"] = plain
            if entities:
                content["caption_entities"] = entities
        markup = self._check_markup(p.get("reply_markup"))
        if _inline_keyboard(markup):
            content["reply_markup"] = markup
        message = self._new_message(chat["id"], self.bot_user, content)
        self._apply_reply_keyboard(chat["id"], markup)
        logged = {
            k: (f"<upload {v.filename}>" if isinstance(v, _Upload) else v) for k, v in p.items()
        }
        self._record(
            method, chat["id"], message, text=raw_caption, parse_mode=p.get("parse_mode"),
            reply_markup=markup, params=logged, file_id=stored.file_id,
        )  # fmt: skip
        return copy.deepcopy(message)

    async def _m_sendPhoto(self, p: JSON) -> Any:
        return await self._send_media("sendPhoto", "photo", p)

    async def _m_sendDocument(self, p: JSON) -> Any:
        return await self._send_media("sendDocument", "document", p)

    async def _m_sendVoice(self, p: JSON) -> Any:
        return await self._send_media("sendVoice", "voice", p)

    async def _m_sendAudio(self, p: JSON) -> Any:
        return await self._send_media("sendAudio", "audio", p)

    async def _m_sendVideo(self, p: JSON) -> Any:
        return await self._send_media("sendVideo", "video", p)

    async def _m_sendAnimation(self, p: JSON) -> Any:
        return await self._send_media("sendAnimation", "animation", p)

    async def _m_sendSticker(self, p: JSON) -> Any:
        return await self._send_media("sendSticker", "sticker", p)

    async def _m_getFile(self, p: JSON) -> Any:
        stored = self._files.get(str(p.get("file_id") or ""))
        if stored is None:
            raise _bad("invalid file_id")
        return {**self._file_ref(stored), "file_path": stored.file_path}

    async def _m_getChat(self, p: JSON) -> Any:
        chat = self._require_chat(p.get("chat_id"))
        return {
            **chat,
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": True,
                "limited_gifts": True,
                "unique_gifts": True,
                "premium_subscription": True,
                "gifts_from_channels": True,
            },
        }

    # ----------------------------------------------------------- bot settings

    @staticmethod
    def _commands_key(scope: Any, language_code: Any) -> tuple[str, str]:
        scope = scope if isinstance(scope, dict) else {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(language_code or "")

    async def _m_setMyCommands(self, p: JSON) -> Any:
        commands = p.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise _bad("can't parse commands JSON object")
        for cmd in commands:
            if not isinstance(cmd, dict) or not _COMMAND_RE.match(str(cmd.get("command", ""))):
                raise _bad("BOT_COMMAND_INVALID")
            if not 1 <= len(str(cmd.get("description", ""))) <= 256:
                raise _bad("command description must be 1-256 characters")
        self._commands[self._commands_key(p.get("scope"), p.get("language_code"))] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
        return True

    async def _m_getMyCommands(self, p: JSON) -> Any:
        return self._commands.get(self._commands_key(p.get("scope"), p.get("language_code")), [])

    async def _m_deleteMyCommands(self, p: JSON) -> Any:
        self._commands.pop(self._commands_key(p.get("scope"), p.get("language_code")), None)
        return True

    async def _m_setChatMenuButton(self, p: JSON) -> Any:
        chat_id = p.get("chat_id")
        if chat_id is not None:
            self._require_chat(chat_id)
        button = p.get("menu_button") or {"type": "default"}
        if not isinstance(button, dict) or "type" not in button:
            raise _bad("can't parse menu button JSON object")
        self._menu_buttons[chat_id] = button
        return True

    async def _m_getChatMenuButton(self, p: JSON) -> Any:
        chat_id = p.get("chat_id")
        return (
            self._menu_buttons.get(chat_id) or self._menu_buttons.get(None) or {"type": "commands"}
        )

    def _set_text(self, field_name: str, p: JSON) -> bool:
        self._bot_texts[(field_name, str(p.get("language_code") or ""))] = str(
            p.get(field_name) or ""
        )
        return True

    def _get_text(self, field_name: str, p: JSON) -> JSON:
        key = (field_name, str(p.get("language_code") or ""))
        return {
            field_name: self._bot_texts.get(
                key, self.bot_user["first_name"] if field_name == "name" else ""
            )
        }

    async def _m_setMyDescription(self, p: JSON) -> Any:
        return self._set_text("description", p)

    async def _m_getMyDescription(self, p: JSON) -> Any:
        return self._get_text("description", p)

    async def _m_setMyShortDescription(self, p: JSON) -> Any:
        return self._set_text("short_description", p)

    async def _m_getMyShortDescription(self, p: JSON) -> Any:
        return self._get_text("short_description", p)

    async def _m_setMyName(self, p: JSON) -> Any:
        return self._set_text("name", p)

    async def _m_getMyName(self, p: JSON) -> Any:
        return self._get_text("name", p)

    # ------------------------------------------------------------- HTTP: control

    def _build_control_table(self) -> dict[str, Callable[..., Any]]:
        return {
            "push_text": self.push_text,
            "push_command": self.push_command,
            "push_callback": self.push_callback,
            "push_sticker": self.push_sticker,
            "push_photo": self.push_photo,
            "push_voice": self.push_voice,
            "push_document": self.push_document,
            "push_edited_text": self.push_edited_text,
            "push_raw": lambda update=None, **kw: self.push_raw(
                update if update is not None else kw
            ),
            "sent": self.sent,
            "messages": self.messages,
            "reply_keyboard": self.reply_keyboard,
            "commands": self.commands,
            "wait_for_sent": self.wait_for_sent,
            "callbacks_answered": lambda: self.callbacks_answered,
            "requests": lambda: self.requests,
            "chat_actions": lambda: self.chat_actions,
            "webhook_deliveries": lambda: self.webhook_deliveries,
            "pending_updates": lambda: self.pending_updates,
            "fail_next": self.fail_next,
            "fail_ratio": self.fail_ratio,
            "reset_faults": self.reset_faults,
            "set_latency": self.set_latency,
            "block_user": self.block_user,
            "reset": self.reset,
            "stats": self.stats,
        }

    async def _handle_control_index(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"ok": True, "result": {"controls": sorted(self._controls), "token": self.token}}
        )

    async def _handle_control(self, request: web.Request) -> web.Response:
        """``/_control/<name>``: JSON body (POST) or query string (GET) as kwargs."""
        name = request.match_info["name"]
        control = self._controls.get(name)
        if control is None:
            return web.json_response(
                {"ok": False, "error_code": 404, "description": f"unknown control {name!r}"},
                status=404,
            )
        kwargs: JSON = {k: _coerce_form_value(k, v) for k, v in request.query.items()}
        if request.body_exists:
            try:
                body = await request.json()
            except ValueError:
                return web.json_response(
                    {"ok": False, "error_code": 400, "description": "body must be JSON"},
                    status=400,
                )
            if isinstance(body, dict):
                kwargs.update(body)
        try:
            result = control(**kwargs)
            if asyncio.iscoroutine(result):
                result = await result
        except TimeoutError as exc:
            return web.json_response(
                {"ok": False, "error_code": 408, "description": str(exc)}, status=408
            )
        except (TypeError, ValueError, LookupError) as exc:
            return web.json_response(
                {"ok": False, "error_code": 400, "description": f"{type(exc).__name__}: {exc}"},
                status=400,
            )
        return web.json_response({"ok": True, "result": result}, dumps=_dumps_lenient)


def _dumps_lenient(value: Any) -> str:
    return json.dumps(value, default=str)


# ------------------------------------------------------------------ standalone


async def _serve(args: argparse.Namespace) -> None:
    fake = FakeBotAPI(
        args.token,
        bot_username=args.bot_username,
        strict_chats=not args.lenient_chats,
    )
    await fake.start(args.host, args.port)
    print(
        json.dumps(
            {
                "base_url": fake.base_url,
                "token": fake.token,
                "control": f"{fake.base_url}/_control",
            }
        ),
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await fake.stop()


def main(argv: list[str] | None = None) -> None:
    """CLI entry point for demos and the benchmark harness."""
    parser = argparse.ArgumentParser(description="Fake Telegram Bot API server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081, help="0 picks a free port")
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    parser.add_argument("--bot-username", default="front_door_test_bot")
    parser.add_argument(
        "--lenient-chats",
        action="store_true",
        help="allow sending to chats that never wrote to the bot",
    )
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr)
    asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
