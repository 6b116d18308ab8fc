"""Open chat windows, and the web channel's `deliver(chat, reply)` for the OutboxSender.

A reply counts as delivered only when a browser window of that chat acknowledges it, so a
phone that lost its signal mid-send gets the reply again when it reconnects. With no window
open the reply waits in the outbox (RetryLater); opening a window makes it due at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from aiohttp import web

from bot.outbox import RetryLater
from flows.types import Flag, Reply

log = logging.getLogger("frontdoor.web")

ACK_TIMEOUT = 5.0  # a live browser answers in milliseconds
NO_WINDOW_DELAY = 300.0  # back-off while nobody is connected; a reconnect wakes it early
UNACKED_DELAY = 2.0


class Connection:
    """One browser window's websocket, and the replies it has not acknowledged yet."""

    def __init__(self, ws: web.WebSocketResponse, language: str) -> None:
        self.ws = ws
        self.language = language  # the language the page chrome is showing
        self.chat: str | None = None
        self._seq = 0
        self._waiting: dict[int, asyncio.Future[None]] = {}

    async def send(self, data: dict[str, Any]) -> None:
        await self.ws.send_json(data)

    async def push(self, reply: Reply, strings: Callable[[str], dict[str, str]]) -> None:
        """Send one reply (after the page words, if its language changed) and await the ack."""
        if reply.language != self.language:
            await self.send(
                {
                    "type": "strings",
                    "language": reply.language,
                    "rtl": reply.rtl,
                    "strings": strings(reply.language),
                }
            )
            self.language = reply.language
        self._seq += 1
        seq = self._seq
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting[seq] = waiter
        try:
            await self.send({"type": "reply", "seq": seq, "reply": reply.to_json()})
            await asyncio.wait_for(waiter, ACK_TIMEOUT)
        finally:
            self._waiting.pop(seq, None)

    def ack(self, seq: object) -> bool:
        waiter = self._waiting.get(seq) if isinstance(seq, int) else None
        if waiter is None or waiter.done():
            return False
        waiter.set_result(None)
        return True

    def close(self) -> None:
        for waiter in self._waiting.values():
            if not waiter.done():
                waiter.cancel()
        self._waiting.clear()


class Hub:
    """chat key -> its open windows. One process holds the sockets it serves."""

    def __init__(
        self, strings: Callable[[str], dict[str, str]], on_ended: Callable[[str], Any] | None = None
    ) -> None:
        self._chats: dict[str, set[Connection]] = defaultdict(set)
        self._strings = strings
        self._on_ended = on_ended

    def attach(self, conn: Connection, chat: str) -> None:
        self.detach(conn)
        conn.chat = chat
        self._chats[chat].add(conn)

    def detach(self, conn: Connection) -> None:
        if conn.chat is not None:
            windows = self._chats.get(conn.chat)
            if windows is not None:
                windows.discard(conn)
                if not windows:
                    del self._chats[conn.chat]
        conn.chat = None

    def windows(self, chat: str) -> list[Connection]:
        return list(self._chats.get(chat, ()))

    def chats(self) -> list[str]:
        """Chats with a window open here: the only ones this worker can deliver to."""
        return list(self._chats)

    @property
    def open_windows(self) -> int:
        return sum(len(windows) for windows in self._chats.values())

    async def deliver(self, chat: str, reply: Reply) -> None:
        windows = self.windows(chat)
        if not windows:
            raise RetryLater(NO_WINDOW_DELAY, "no chat window open")
        results = await asyncio.gather(
            *(w.push(reply, self._strings) for w in windows), return_exceptions=True
        )
        if not any(result is None for result in results):
            raise RetryLater(UNACKED_DELAY, "not acknowledged")
        if Flag.ENDED in reply.flags and self._on_ended is not None:
            await self._on_ended(chat)

    async def close_all(self) -> None:
        for windows in list(self._chats.values()):
            for conn in list(windows):
                with contextlib.suppress(Exception):
                    await conn.ws.close(code=1001, message=b"server shutting down")
