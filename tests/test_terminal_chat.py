"""`frontdoor chat` completes the journey in a real pseudo-terminal, as a trainer would use it."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.chat import PARENT_JOURNEY

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


class Terminal:
    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, cwd=ROOT,
                                     env=env, close_fds=True)
        os.close(slave)
        self.screen = ""

    def expect(self, text: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while text not in self.screen:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.proc.poll() is not None:
                raise AssertionError(f"{text!r} not seen; screen ends:\n{self.screen[-1500:]}")
            ready, _, _ = select.select([self.master], [], [], remaining)
            if ready:
                try:
                    self.screen += os.read(self.master, 65536).decode(errors="replace")
                except OSError:
                    break
        return self.screen

    def send(self, line: str) -> None:
        self.screen = ""
        os.write(self.master, (line + "\n").encode())

    def close(self) -> None:
        os.write(self.master, b"\x04")  # Ctrl-D
        try:
            self.proc.wait(20)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            os.close(self.master)


def test_frontdoor_chat_completes_the_journey_in_a_terminal(tmp_path):
    # This test types at machine speed; the per-conversation limit is for people.
    env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/chat.sqlite3",
           "FRONTDOOR_RATE_LIMIT_FACTOR": "1000"}
    term = Terminal([sys.executable, "-m", "bot.cli", "chat", "--session", "trainer"], env)
    try:
        term.expect("qualified social worker")
        term.expect("[1] Start")
        term.expect("> ")
        term.send("1")  # the first button, by number
        term.expect("Who are you?")
        for _action, value in PARENT_JOURNEY[2:]:
            term.expect("> ")
            term.send(value)  # buttons can be typed by name too
        term.expect("Please check what you've told me")
        term.expect("> ")
        term.send("1")  # Send to the hub
        screen = term.expect("Your reference is SFH-")
        assert "01895 556006" in screen
        term.expect("> ")
        term.send("/back")
        term.expect("already been sent")
    finally:
        term.close()
    assert term.proc.returncode == 0
