"""A web chat server in-process, and a person talking to it over the websocket."""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from bot.app import build_app
from bot.runtime import Runtime, build_runtime
from bot.settings import Settings
from tests.support.botproc import free_port

_ids = itertools.count(1)


@dataclass
class WebServer:
    runtime: Runtime
    runner: web.AppRunner
    base: str

    @property
    def ws_url(self) -> str:
        return self.base.replace("http://", "ws://") + "/chat/ws"

    async def close(self) -> None:
        await self.runner.cleanup()
        await self.runtime.close()


async def start_server(
    database_url: str, monkeypatch: Any, *, rate: float | None = None, **settings: Any
) -> WebServer:
    """build_app + bot.web.setup on 127.0.0.1, quick exit pointed at the local neutral page."""
    import bot.web

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("FRONTDOOR_QUICK_EXIT_URL", f"{base}/neutral")
    # A scripted person answers faster than anyone types (tests/test_rate_limit.py tests it).
    runtime = await build_runtime(Settings(database_url=database_url, rate_limit_factor=1000,
                                           **settings), migrate=False)
    app = build_app(runtime)
    if bot.web.WEB_CHAT not in app:
        bot.web.setup(app, runtime)  # until bot/app.py's build_app calls it itself
    if rate is not None:  # a scripted person answers faster than anyone types
        app[bot.web.WEB_CHAT].rate = rate
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return WebServer(runtime, runner, base)


class WebUser:
    """One browser window, speaking the page's JSON protocol (acks included)."""

    def __init__(
        self, server: WebServer, languages: list[str] | None = None, page: str = "en"
    ) -> None:
        self.server = server
        self.languages = languages or ["en-GB", "en"]
        self.page = page
        self.http: aiohttp.ClientSession | None = None
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.frames: list[dict[str, Any]] = []
        self.session: str | None = None
        self._reader: asyncio.Task[None] | None = None
        self._arrived = asyncio.Event()

    async def connect(
        self, *, session: str | None = None, code: str | None = None
    ) -> dict[str, Any]:
        self.http = self.http or aiohttp.ClientSession()
        self.ws = await self.http.ws_connect(self.server.ws_url)
        self._reader = asyncio.create_task(self._read(self.ws))
        await self.send(
            {
                "type": "hello",
                "session": session,
                "code": code,
                "languages": self.languages,
                "page": self.page,
            }
        )
        welcome = await self.wait_for("welcome")
        self.session = welcome.get("session") or self.session
        return welcome

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for frame in ws:
            if frame.type != aiohttp.WSMsgType.TEXT:
                continue
            data = json.loads(frame.data)
            self.frames.append(data)
            if data["type"] == "reply":
                await ws.send_json({"type": "ack", "seq": data["seq"]})
            self._arrived.set()

    async def send(self, data: dict[str, Any]) -> None:
        assert self.ws is not None
        await self.ws.send_json(data)

    async def wait_for(self, kind: str, after: int = 0, timeout: float = 15) -> dict[str, Any]:
        return await self.wait_for_any((kind,), after, timeout)

    def replies(self, after: int = 0) -> list[dict[str, Any]]:
        return [f["reply"] for f in self.frames[after:] if f["type"] == "reply"]

    @property
    def last(self) -> dict[str, Any]:
        return self.replies()[-1]

    def buttons(self) -> list[str]:
        return [c["id"] for c in self.last["choices"]]

    async def turn(self, data: dict[str, Any], quiet: float = 0.08) -> list[dict[str, Any]]:
        """Send one message; the replies to it (the burst ends when nothing comes for a bit).

        Like the page, a message refused for speed ("slow_down") is sent again a moment later.
        """
        before = len(self.frames)
        data = {**data, "id": f"t{next(_ids)}"}
        while True:
            mark = len(self.frames)
            await self.send(data)
            answer = await self.wait_for_any(("reply", "error"), after=mark)
            if answer["type"] == "reply" or answer.get("code") != "slow_down":
                break
            await asyncio.sleep(0.3)
        while True:
            count = len(self.frames)
            await asyncio.sleep(quiet)
            if len(self.frames) == count:
                return self.replies(before)

    async def wait_for_any(
        self, kinds: tuple[str, ...], after: int = 0, timeout: float = 15
    ) -> dict[str, Any]:
        async def find() -> dict[str, Any]:
            while True:
                for frame in self.frames[after:]:
                    if frame["type"] in kinds:
                        return frame
                self._arrived.clear()
                await self._arrived.wait()

        return await asyncio.wait_for(find(), timeout)

    async def say(self, text: str) -> list[dict[str, Any]]:
        return await self.turn({"type": "text", "text": text})

    async def click(self, choice: str) -> list[dict[str, Any]]:
        assert choice in self.buttons(), f"{choice!r} not among {self.buttons()}"
        # As the page does: the question these buttons answer goes back with the press.
        return await self.turn({"type": "choice", "choice": choice,
                                "question": self.last.get("question", "")})

    async def command(self, name: str, arg: str = "") -> list[dict[str, Any]]:
        return await self.turn({"type": "command", "command": name, "text": arg})

    async def play(self, steps: list[tuple[str, str]]) -> list[dict[str, Any]]:
        replies: list[dict[str, Any]] = []
        for action, value in steps:
            replies = await getattr(self, action)(value)
        return replies

    async def disconnect(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)
        self.ws = None

    async def close(self) -> None:
        await self.disconnect()
        if self.http is not None:
            await self.http.close()
