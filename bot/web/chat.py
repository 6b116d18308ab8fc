"""The web chat websocket: browser JSON in, channel-neutral Messages to the processor.

Client -> server (one JSON object per frame; typed text at most 4,000 bytes):
  {"type": "hello", "session": token|null, "code": code|null, "languages": [...], "page": lang}
  {"type": "text", "id": id, "text": "..."}
  {"type": "choice", "id": id, "choice": "...", "question": reply's question token or ""}
  {"type": "command", "id": id, "command": "back", "text": ""}
  {"type": "ack", "seq": n}     {"type": "code"}     {"type": "resume", "code": "..."}
Server -> client: welcome, strings, reply (Reply JSON under "reply"), received, code, resumed,
forget, error {"code", "message"}.

Like the Telegram adapter this only stores the message (processor.accept) and returns; the
engine's replies come back through the outbox and the Hub. The `id` makes a message sent
again after a reconnect a no-op (inbox dedup), so nothing is answered twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web

from bot.runtime import Runtime
from bot.web import resume
from bot.web.hub import Connection, Hub
from bot.web.limits import FailureLimiter, TokenBucket
from bot.web.page import MAX_TEXT_BYTES, PageConfig
from flows import events
from flows.commands import COMMANDS
from flows.types import Kind, Message
from storage.web import wake_outbox

log = logging.getLogger("frontdoor.web")

CHANNEL = resume.CHANNEL
MAX_FRAME = 32_768  # 4,000 bytes of text even when \uXXXX-escaped, and the envelope
MAX_CHOICE = 100
MAX_QUESTION = 16  # a question token (flows/questions.py) is 8 hex digits
MAX_ARGUMENT = 200
MAX_STRIKES = 40  # messages refused for speed before the connection is closed
MAX_CODE_TRIES = 5  # wrong resume codes per connection
MAX_CODES_ISSUED = 5
REWAKE_AFTER = 3.0
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
EXPLAINED = frozenset({"too_long", "slow_down", "code_bad", "code_busy"})  # keys in STRINGS


@dataclass
class WebChat:
    """What every connection shares."""

    runtime: Runtime
    config: PageConfig
    hub: Hub
    strings: Callable[[str], dict[str, str]]  # the page's words in a language (cached)
    code_failures: FailureLimiter = field(default_factory=FailureLimiter)
    burst: float = 5  # messages a window may send at once...
    rate: float = 5.0  # ...and per second after that
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


class Session:
    """One websocket's conversation with the server."""

    def __init__(self, web_chat: WebChat, conn: Connection, remote: str) -> None:
        self.web = web_chat
        self.conn = conn
        self.remote = remote
        self.bucket = TokenBucket(web_chat.burst, web_chat.rate)
        self.strikes = 0
        self.code_tries = 0
        self.codes_issued = 0
        self.language: str | None = None  # the browser's preference, for a new conversation

    # --- framing -----------------------------------------------------------------------

    async def frame(self, data: str) -> bool:
        """Handle one frame; False means close the connection."""
        if len(data.encode()) > MAX_FRAME:
            await self.error("too_long")
            return True
        try:
            message = json.loads(data)
        except ValueError:
            message = None
        if not isinstance(message, dict):
            await self.error("bad_message")
            return True
        kind = message.get("type")
        if kind == "ack":
            self.conn.ack(message.get("seq"))
            return True
        if not self.bucket.take():
            self.strikes += 1
            await self.error("slow_down", message.get("id"))
            return self.strikes < MAX_STRIKES
        if kind == "hello":
            await self.hello(message)
        elif self.conn.chat is None:
            await self.error("no_hello")
        elif kind in ("text", "choice", "command"):
            await self.inbound(kind, message)
        elif kind == "code":
            await self.issue_code()
        elif kind == "resume":
            await self.resume(message.get("code"))
        else:
            await self.error("bad_message")
        return True

    async def error(self, code: str, message_id: object = None) -> None:
        data: dict[str, Any] = {"type": "error", "code": code}
        if code in EXPLAINED:  # the person sees these words, in the page's language
            data["message"] = self.web.strings(self.conn.language)[code]
        if isinstance(message_id, str) and _ID.match(message_id):
            data["id"] = message_id
        await self.conn.send(data)

    # --- joining a chat ------------------------------------------------------------------

    async def hello(self, message: dict[str, Any]) -> None:
        config = self.web.config
        languages = message.get("languages")
        if isinstance(languages, list):
            self.language = config.pick([str(x)[:20] for x in languages[:10]])
        page = config.pick([str(message.get("page") or "")[:20]])
        if page:
            self.conn.language = page
        chat = None
        if message.get("code"):
            chat = await self._redeem(message.get("code"))
        token = message.get("session")
        if chat is None and not valid_session(token):
            token = resume.new_token()
        await self.join(chat or resume.chat_key(str(token)))
        await self.conn.send(
            {"type": "welcome", "session": None if chat else token, "resumed": chat is not None}
        )

    async def join(self, chat: str) -> None:
        self.web.hub.attach(self.conn, chat)
        await self.wake(chat)
        task = asyncio.get_running_loop().create_task(self._rewake(chat))
        self.web.tasks.add(task)
        task.add_done_callback(self.web.tasks.discard)

    async def wake(self, chat: str) -> None:
        """Replies that waited for this window are due now."""
        async with self.web.runtime.db.transaction() as session:
            await wake_outbox(session, CHANNEL, chat)
        self.web.runtime.bus.emit(events.OUTBOX, {"channel": CHANNEL})

    async def _rewake(self, chat: str) -> None:
        """A reply that failed just as this window opened was put back by minutes: undo that."""
        await asyncio.sleep(REWAKE_AFTER)
        if self.conn.chat == chat:
            await self.wake(chat)

    # --- messages ------------------------------------------------------------------------

    async def inbound(self, kind: str, data: dict[str, Any]) -> None:
        chat = self.conn.chat
        assert chat is not None
        message_id = data.get("id")
        fields: dict[str, Any]
        if kind == "text":
            text = data.get("text")
            if not isinstance(text, str) or not text.strip():
                await self.error("bad_message", message_id)
                return
            if len(text.encode()) > MAX_TEXT_BYTES:
                await self.error("too_long", message_id)
                return
            fields = {"kind": Kind.TEXT, "text": text}
        elif kind == "choice":
            choice = data.get("choice")
            question = data.get("question", "")
            if (not isinstance(choice, str) or not 0 < len(choice) <= MAX_CHOICE
                    or not isinstance(question, str) or len(question) > MAX_QUESTION):
                await self.error("bad_message", message_id)
                return
            fields = {"kind": Kind.CHOICE, "choice": choice, "question": question}
        else:
            name = str(data.get("command") or "").lower()
            argument = str(data.get("text") or "")[:MAX_ARGUMENT].strip()
            fields = (
                {"kind": Kind.COMMAND, "command": name, "text": argument}
                if name in COMMANDS
                else {"kind": Kind.TEXT, "text": f"/{name[:40]}"}
            )
        await self.web.runtime.processor.accept(
            Message(
                channel=CHANNEL,
                chat=chat,
                language=self.language,
                external_id=external_id(chat, message_id),
                **fields,
            )
        )
        if isinstance(message_id, str) and _ID.match(message_id):
            await self.conn.send({"type": "received", "id": message_id})

    # --- resume codes --------------------------------------------------------------------

    async def issue_code(self) -> None:
        chat = self.conn.chat
        assert chat is not None
        if self.codes_issued >= MAX_CODES_ISSUED:
            await self.error("code_busy")
            return
        self.codes_issued += 1
        days = self.web.runtime.profile.draft_retention_days
        code = await resume.issue(self.web.runtime.db, chat, days)
        await self.conn.send({"type": "code", "code": resume.display(code), "days": days})

    async def resume(self, typed: object) -> None:
        chat = await self._redeem(typed)
        if chat is None:
            return
        await self.join(chat)
        await self.conn.send(
            {"type": "resumed", "code": resume.display(resume.normalise(typed) or "")}
        )

    async def _redeem(self, typed: object) -> str | None:
        """The chat a typed code opens; a wrong code counts against this window and address."""
        limiter = self.web.code_failures
        if self.code_tries >= MAX_CODE_TRIES or limiter.blocked(self.remote):
            await self.error("code_busy")
            return None
        code = resume.normalise(typed)
        days = self.web.runtime.profile.draft_retention_days
        chat = await resume.redeem(self.web.runtime.db, code, days) if code else None
        if chat is None:
            self.code_tries += 1
            limiter.failed(self.remote)
            log.info("web chat: a resume code was refused")
            await self.error("code_bad")
        return chat


def valid_session(token: object) -> bool:
    return resume.valid_token(token)


def external_id(chat: str, message_id: object) -> str | None:
    """Inbox dedup key for a browser message id (the same id sent twice is one message)."""
    if not isinstance(message_id, str) or not _ID.match(message_id):
        return None
    return hashlib.sha256(f"{chat}|{message_id}".encode()).hexdigest()[:48]


def same_origin(request: web.Request) -> bool:
    """Browsers send Origin on websockets: refuse pages of other sites (cross-site hijack)."""
    origin = request.headers.get("Origin")
    return origin is None or urlsplit(origin).netloc == request.host


async def websocket(request: web.Request, web_chat: WebChat) -> web.StreamResponse:
    if not same_origin(request):
        raise web.HTTPForbidden(text="cross-site websocket refused")
    ws = web.WebSocketResponse(heartbeat=25.0, max_msg_size=2 * MAX_FRAME)
    await ws.prepare(request)
    conn = Connection(ws, web_chat.config.default_language)
    session = Session(web_chat, conn, request.remote or "unknown")
    log.info("web chat window opened (open now: %d)", web_chat.hub.open_windows + 1)
    try:
        async for frame in ws:
            if frame.type == WSMsgType.TEXT:
                if not await session.frame(frame.data):
                    break
            elif frame.type == WSMsgType.BINARY:
                await session.error("bad_message")
            elif frame.type == WSMsgType.ERROR:
                break
    finally:
        web_chat.hub.detach(conn)
        conn.close()
        if not ws.closed:
            await ws.close()
        log.info("web chat window closed (open now: %d)", web_chat.hub.open_windows)
    return ws
