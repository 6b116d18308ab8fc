"""Run the real `frontdoor run` process for end-to-end tests, and talk to it as Telegram users."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

from tests.fake_bot_api import DEFAULT_TOKEN, FakeBotAPI
from tests.support.buttons import offered

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def terminate(proc: subprocess.Popen[bytes] | None, within: float = 10.0) -> None:
    """SIGTERM (a clean shutdown), then SIGKILL if it has not stopped within `within` s."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return
        await asyncio.sleep(0.1)
    proc.kill()
    proc.wait(10)


class BotProcess:
    """`python -m bot.cli run` against a database and a fake Bot API."""

    def __init__(self, database_url: str, api_url: str, log_path: Path, **env: str) -> None:
        self.port = free_port()
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "TELEGRAM_BOT_TOKEN": DEFAULT_TOKEN,
            "TELEGRAM_API_URL": api_url,
            "FRONTDOOR_PORT": str(self.port),
            "FRONTDOOR_LOG_LEVEL": "INFO",
            # The fake users type at machine speed; tests/test_rate_limit.py tests the limit.
            "FRONTDOOR_RATE_LIMIT_FACTOR": "1000",
            **env,
        }
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    async def start(self, timeout: float = 60) -> None:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run"], cwd=ROOT, env=self.env,
            stdout=log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"bot exited early:\n{self.log()}")
                try:
                    async with http.get(f"http://127.0.0.1:{self.port}/healthz") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        raise TimeoutError(f"bot did not become healthy:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def kill(self) -> None:
        """SIGKILL: no clean-up, as in a crash or an OOM kill."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    async def stop(self) -> None:
        await terminate(self.proc)


class TelegramUser:
    """A person in a private chat with the bot, pressing buttons and typing."""

    def __init__(self, fake: FakeBotAPI, chat_id: int, language_code: str = "en") -> None:
        self.fake = fake
        self.chat_id = chat_id
        self.language_code = language_code

    def sent(self) -> list[dict[str, Any]]:
        return self.fake.sent(self.chat_id, methods=["sendMessage"])

    async def _turn(self, push: Any, timeout: float = 20) -> list[dict[str, Any]]:
        before = len(self.sent())
        push()
        await self.fake.wait_for_sent(self.chat_id, before + 1, timeout=timeout,
                                      methods=["sendMessage"])
        while True:  # a turn's replies go out together; wait for the burst to end
            count = len(self.sent())
            await asyncio.sleep(0.25)
            if len(self.sent()) == count:
                return self.sent()[before:]

    @property
    def last(self) -> dict[str, Any]:
        return self.sent()[-1]

    def buttons(self) -> list[str]:
        return list(offered(self.last))

    async def command(self, name: str) -> list[dict[str, Any]]:
        return await self._turn(lambda: self.fake.push_command(
            self.chat_id, name, language_code=self.language_code))

    async def say(self, text: str) -> list[dict[str, Any]]:
        return await self._turn(lambda: self.fake.push_text(
            self.chat_id, text, language_code=self.language_code))

    async def click(self, data: str) -> list[dict[str, Any]]:
        buttons = offered(self.last)
        assert data in buttons, f"{data!r} not among {list(buttons)}: {self.last['text']!r}"
        return await self._turn(lambda: self.fake.push_callback(
            self.chat_id, buttons[data], language_code=self.language_code))

    async def play(self, steps: list[tuple[str, str]]) -> list[dict[str, Any]]:
        replies: list[dict[str, Any]] = []
        for action, value in steps:
            replies = await getattr(self, action)(value)
        return replies


class SharedBot:
    """One bot process and fake Bot API for a whole test module (starting one costs seconds).

    Tests sharing it use their own chat ids and look only at their own rows.
    """

    def __init__(self, db_url: str, fake: FakeBotAPI, process: BotProcess) -> None:
        self.db_url = db_url
        self.fake = fake
        self.process = process
