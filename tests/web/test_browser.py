"""The web chat in real headless Chromium: Arabic right to left, a language switch that keeps
every answer, axe-core in English and Arabic, and the quick exit."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext
from sqlalchemy import select

from storage.models import Contact, Conversation
from tests.support.chromium import chromium
from tests.web.browser import PageChat, axe_problems, axe_source
from tests.web.support import WebServer

ARABIC = re.compile(r"[\u0600-\u06FF]")
PHONE = {"width": 360, "height": 740}

# A mother's self-referral typed in Arabic (names, school and worries in her own words).
BEFORE_SWITCH = [
    ("click", "start"),
    ("click", "parent_carer"),
    ("say", "مريم"),
    ("click", "mother"),
    ("say", "أمل"),
]
IN_ENGLISH = [("say", "14/03/2016"), ("click", "girl"), ("say", "Oak Farm Primary")]
AFTER_SWITCH = [
    ("click", "no"),
    ("click", "yes"),
    ("click", "mothers_partner"),
    ("say", "دان"),
    ("say", "34"),
    ("click", "no"),
    ("click", "no"),
    ("click", "elsewhere"),
    ("click", "yes"),
    ("click", "no"),
    ("say", "12 High Street"),
    ("say", "UB8 1QS"),
    ("say", "ابنتي أمل غاضبة جدا منذ أن ترك والدها البيت، ونحن متأخرون في دفع الإيجار."),
    ("say", "أريد دعما في التربية ومساعدة في مشاكل المال"),
    ("click", "skip"),
    ("click", "skip"),
    ("click", "none"),
    ("click", "yes"),  # an interpreter (asked because the chat is not in English)
    ("click", "yes"),
    ("click", "some"),
    ("say", "من فضلك لا تشاركوا أي شيء مع عائلة زوجي السابق"),
    ("click", "yes"),
    ("click", "yes"),
    ("say", "07911 123456"),
    ("click", "no"),
    ("click", "yes"),
    ("click", "evening"),
    ("click", "yes"),
]


@pytest.fixture(scope="session")
def axe() -> str:
    return axe_source()


@pytest_asyncio.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


async def _context(browser: Browser, locale: str) -> BrowserContext:
    return await browser.new_context(
        locale=locale, viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2
    )


async def _document(page: Any) -> dict[str, str]:
    return dict(
        await page.evaluate("""() => ({
        lang: document.documentElement.lang, dir: document.documentElement.dir,
        direction: getComputedStyle(document.body).direction,
        heading: document.querySelector('h1').textContent,
        overflow: document.documentElement.scrollWidth > document.documentElement.clientWidth
    })""")
    )


async def test_a_parent_completes_a_self_referral_in_arabic_on_the_web(
    browser: Browser, sqlite_server: WebServer
) -> None:
    context = await _context(browser, "ar")
    page = await context.new_page()
    requests: list[str] = []
    problems: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    chat = PageChat(page)

    await page.goto(f"{sqlite_server.base}/chat")
    await chat.start()
    doc = await _document(page)
    assert doc["lang"] == "ar" and doc["dir"] == "rtl" and doc["direction"] == "rtl"
    opening = await chat.last()
    assert opening["lang"] == "ar" and opening["dir"] == "rtl" and opening["direction"] == "rtl"
    assert ARABIC.search(opening["text"]), "the opening message is not in Arabic"
    arabic_heading = doc["heading"]

    await chat.play(BEFORE_SWITCH)

    await chat.language("en")  # midway: the visible language control
    doc = await _document(page)
    assert doc["lang"] == "en" and doc["dir"] == "ltr" and doc["direction"] == "ltr"
    assert doc["heading"].startswith("Chat with the")
    question = await chat.last()
    assert question["lang"] == "en" and question["direction"] == "ltr"
    assert "date of birth" in question["text"].lower() or "born" in question["text"].lower()
    await chat.play(IN_ENGLISH)

    await chat.language("ar")  # and back
    doc = await _document(page)
    assert doc["lang"] == "ar" and doc["dir"] == "rtl" and doc["direction"] == "rtl"
    assert (await chat.last())["direction"] == "rtl"
    await chat.play(AFTER_SWITCH)

    print("language switch offered after:", chat.declined)
    summary = await chat.last()
    assert summary["direction"] == "rtl" and "submit" in summary["choices"]
    for answer in ("مريم", "أمل", "14/03/2016", "Oak Farm Primary", "دان", "UB8 1QS"):
        assert answer in summary["text"], f"{answer!r} was lost: {summary['text']}"
    await chat.click("submit")
    done = await chat.last()
    assert "SFH-" in done["text"] and done["dir"] == "rtl"
    assert not (await _document(page))["overflow"], "the page scrolls sideways at 360px"

    async with sqlite_server.runtime.db.transaction() as session:
        contact = await session.scalar(select(Contact))
        conversation = await session.scalar(select(Conversation))
    assert contact is not None and conversation is not None
    assert contact.channel == "web" and contact.complete and contact.language == "ar"
    assert contact.reference in done["text"]
    assert contact.handover["children"][0]["name"] == "أمل"
    assert contact.interpreter_needed
    assert contact.urgency == "standard", contact.risk_evidence  # no false alarm
    assert conversation.language == "ar"

    assert all(url.startswith(sqlite_server.base) for url in requests), requests
    assert problems == [], problems  # no CSP violation, no script error
    assert ARABIC.search(arabic_heading), f"the page is not in Arabic: {arabic_heading!r}"
    await context.close()


@pytest.mark.parametrize("locale", ["en-GB", "ar"])
async def test_axe_finds_no_serious_problems(
    browser: Browser, sqlite_server: WebServer, axe: str, locale: str
) -> None:
    context = await _context(browser, locale)
    page = await context.new_page()
    chat = PageChat(page)
    await page.goto(f"{sqlite_server.base}/chat")
    await chat.start()
    assert await axe_problems(page, axe) == []

    # Keyboard only: focus lands on the first answer button; Enter presses it.
    focused = await page.evaluate("document.activeElement.dataset.choice")
    assert focused == "start"
    before = await chat.bot_count()
    await page.keyboard.press("Enter")
    await chat.settle(before)
    assert await page.evaluate("document.activeElement.dataset.choice") == "parent_carer"
    before = await chat.bot_count()
    await page.keyboard.press("Enter")
    await chat.settle(before)
    assert await page.evaluate("document.activeElement.id") == "message"

    # The views with the most colour: a danger-now alert, the code panel, the resume form.
    await chat.say("My partner is hitting my son right now and I can't stop him")
    alert = page.locator('#log .msg-alert[role="alert"]')
    assert await alert.count() == 1
    assert await alert.locator('a[href="tel:999"]').count() == 1
    await page.click("#save-button")
    await page.wait_for_selector("#code-panel:not([hidden])")
    code = await page.text_content("#code-value")
    assert code and re.fullmatch(r"[2-9B-Z]{5}-[2-9B-Z]{5}", code)
    await page.click("#resume-button")
    await page.wait_for_selector("#resume-form:not([hidden])")
    problems = await axe_problems(page, axe)
    assert problems == [], problems
    await context.close()


async def test_escape_leaves_for_the_neutral_site_with_no_way_back(
    browser: Browser, sqlite_server: WebServer
) -> None:
    context = await _context(browser, "en-GB")
    page = await context.new_page()
    chat = PageChat(page)
    start = f"{sqlite_server.base}/neutral?from=council-website"
    await page.goto(start)
    await page.goto(f"{sqlite_server.base}/chat")
    await chat.start()
    await page.check("#keep")
    assert await page.evaluate("sessionStorage.getItem('frontdoor.chat')") is not None
    await chat.click("start")
    await page.focus("#message")
    await page.keyboard.type("Hello From Someone")  # capitals: Shift with letters is typing
    assert "/chat" in page.url

    await page.keyboard.press("Escape")
    await page.wait_for_url(f"{sqlite_server.base}/neutral")
    assert await page.evaluate("sessionStorage.getItem('frontdoor.chat')") is None
    await page.go_back()
    assert page.url == start, f"Back went to {page.url}"
    await page.go_forward()
    assert page.url == f"{sqlite_server.base}/neutral"

    # Shift pressed three times, and the button, do the same.
    for leave in ("shift", "button"):
        await page.goto(f"{sqlite_server.base}/chat")
        await chat.start()
        if leave == "shift":
            for _ in range(3):
                await page.keyboard.press("Shift")
        else:
            await page.click("#leave")
        await page.wait_for_url(f"{sqlite_server.base}/neutral")
        await page.go_back()
        assert "/chat" not in page.url
    await context.close()


async def test_keeping_the_chat_in_the_tab_is_the_persons_choice(
    browser: Browser, sqlite_server: WebServer
) -> None:
    context = await _context(browser, "en-GB")
    page = await context.new_page()
    chat = PageChat(page)
    await page.goto(f"{sqlite_server.base}/chat")
    await chat.start()
    await chat.play([("click", "start"), ("click", "parent_carer")])
    assert await page.evaluate("sessionStorage.length") == 0  # nothing kept by default
    await page.reload()
    await chat.start()
    assert "Welcome back" not in (await chat.last())["text"]  # a new chat

    await chat.play([("click", "start"), ("click", "parent_carer")])
    await page.check("#keep")
    await page.reload()
    await chat.start()
    assert "Welcome back" in (await chat.last())["text"]
    assert await page.is_checked("#keep")
    await page.uncheck("#keep")
    assert await page.evaluate("sessionStorage.length") == 0
    await context.close()
