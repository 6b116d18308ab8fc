"""Real headless Chromium (Debian's package) for the web chat, and a person using the page."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path
from typing import Any

from playwright.async_api import Page

HERE = Path(__file__).resolve().parent
AXE = HERE / "node_modules" / "axe-core" / "axe.min.js"


def axe_source() -> str:
    """axe-core from npm (tests/web/package.json), installed on first use."""
    if not AXE.is_file():
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--prefix", str(HERE)],
            check=True,
            capture_output=True,
            timeout=300,
        )
    return AXE.read_text(encoding="utf-8")


async def axe_problems(page: Page, source: str) -> list[dict[str, Any]]:
    """Serious and critical WCAG 2.x A/AA violations on the page as it is now."""
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.evaluate(source)  # DevTools evaluation: the page's CSP stays in force
    result = await page.evaluate("""() => axe.run(document, {
        runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa',
                                         'wcag22aa', 'best-practice']},
        resultTypes: ['violations']})""")
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"]][:5],
        }
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


class PageChat:
    """Drives the chat page the way a person does: buttons, typing, the header controls."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.declined: list[str] = []  # questions after which a language switch was offered

    async def bot_count(self) -> int:
        return int(await self.page.locator("#log .msg-bot").count())

    async def settle(self, before: int, timeout: float = 15) -> None:
        """Wait for new replies, then until the burst is over."""
        await self.page.wait_for_function(
            "n => document.querySelectorAll('#log .msg-bot').length > n",
            arg=before,
            timeout=timeout * 1000,
        )
        count = await self.bot_count()
        while True:
            await asyncio.sleep(0.1)
            now = await self.bot_count()
            if now == count:
                return
            count = now

    async def start(self) -> None:
        """The page sends /start itself; wait for the opening question."""
        await self.settle(0)

    async def last(self) -> dict[str, Any]:
        return dict(
            await self.page.locator("#log .msg-bot").last.evaluate("""m => ({
            text: m.querySelector('.msg-text').textContent, lang: m.lang, dir: m.dir,
            direction: getComputedStyle(m).direction,
            choices: Array.from(m.querySelectorAll('.choice')).map(b => b.dataset.choice)})""")
        )

    async def texts(self, since: int = 0) -> list[str]:
        texts = await self.page.locator("#log .msg-bot .msg-text").all_text_contents()
        return list(texts[since:])

    async def click(self, choice: str) -> None:
        before = await self.bot_count()
        button = self.page.locator(f'#log .choice:enabled[data-choice="{choice}"]').last
        if not await button.count():
            last = await self.last()
            said = "\n---\n".join((await self.texts())[-6:])
            raise AssertionError(
                f"no {choice!r} button (buttons: {last['choices']}); the chat said:\n{said}"
            )
        await button.click()
        await self.settle(before)

    async def say(self, text: str) -> None:
        before = await self.bot_count()
        await self.page.fill("#message", text)
        await self.page.press("#message", "Enter")
        await self.settle(before)

    async def language(self, code: str) -> None:
        """The visible language control, then the language's own button."""
        before = await self.bot_count()
        await self.page.click("#language-button")
        await self.settle(before)
        await self.click(f"lang:{code}")

    async def keep_declining_language_offers(self) -> None:
        """The engine may offer to switch when an answer looks like another language."""
        while "lang:keep" in (await self.last())["choices"]:
            self.declined.append((await self.texts())[-2])
            await self.click("lang:keep")

    async def play(self, steps: list[tuple[str, str]]) -> None:
        for action, value in steps:
            await getattr(self, action)(value)
            await self.keep_declining_language_offers()
