"""The console in real headless Chromium (Debian's package) driven by Playwright.

An officer signs in with 2FA (pyotp computes the code), takes next — the red contact that
arrived last — records an outcome and a reply, and the reply lands in the outbox for the
contact's Telegram chat. The parent's <script> in the handover never runs.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest_asyncio
from aiohttp import web
from playwright.async_api import Browser, expect
from sqlalchemy import select

from flows.events import CONTACT_RED, EventBus
from flows.types import Reply
from storage.db import Database
from storage.models import OutboxItem
from tests.support.chromium import chromium
from tests.triage.conftest import add_contact, add_officer, make_app

SCREENSHOTS = Path(os.environ.get("TRIAGE_SCREENSHOTS", "")) if os.environ.get(
    "TRIAGE_SCREENSHOTS") else None
PARENT_TEXT = ('<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
               " He hit me again **tonight**")


@pytest_asyncio.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


@pytest_asyncio.fixture
async def server(sqlite_db: Database) -> AsyncIterator[tuple[str, EventBus]]:
    bus = EventBus()
    runner = web.AppRunner(make_app(sqlite_db, bus))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}", bus
    finally:
        await runner.cleanup()


async def _shot(page: Any, name: str) -> None:
    if SCREENSHOTS is not None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


async def test_officer_takes_the_red_contact_and_replies(
    browser: Browser, server: tuple[str, EventBus], sqlite_db: Database
) -> None:
    base, bus = server
    officer = await add_officer(sqlite_db, "olivia")
    for minutes in (120, 90, 45):
        await add_contact(sqlite_db, rag="amber", age_minutes=minutes, chat=f"9{minutes}")
    red = await add_contact(
        sqlite_db, urgency="immediate", rag="red", age_minutes=0, chat="424242",
        language="pl", interpreter_needed=True, suggested_category="domestic_violence",
        handover={
            "journey": "self_referral",
            "sections": [{"id": "worry", "title": "What is happening",
                          "answers": [{"question": "What worries you?",
                                       "answer": PARENT_TEXT}]}],
            "risk": {"level": "immediate",
                     "evidence": [{"phrase": "hit me", "language": "en",
                                   "rule": "violence_now"}]},
            "contact_safety": {"safe_to_contact": True, "safe_times": "after 6pm"},
        },
    )

    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(f"{base}/console/")
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await page.get_by_label("Username").fill(officer.username)
    await page.get_by_label("Password").fill(officer.password)
    await page.get_by_role("button", name="Continue").click()
    await expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    await page.get_by_label("6-digit code").fill(officer.code())
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="Triage queue")).to_be_visible()
    await page.keyboard.press("Tab")  # keyboard users land on the skip link first
    assert await page.evaluate("document.activeElement.textContent") == "Skip to main content"

    # A live alert arrives over SSE while the queue is open.
    await page.wait_for_timeout(300)
    bus.emit(CONTACT_RED, {"contact_id": red.id, "reference": red.reference,
                           "urgency": "immediate", "locality": "south_east",
                           "language": "pl"})
    await expect(page.get_by_role("alert")).to_contain_text(f"RED contact {red.reference}")
    await _shot(page, "1-queue")

    await page.get_by_role("button", name="Take next contact").focus()
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(f"{base}/console/contacts/{red.reference}")
    await expect(page.get_by_role("heading", name=f"Contact {red.reference}")).to_be_visible()
    await expect(page.get_by_text("He hit me again **tonight**")).to_be_visible()
    assert await page.evaluate("window.__pwned") is None
    await _shot(page, "2-contact")

    await page.get_by_label("Category").select_option("domestic_violence")
    await page.get_by_label("red", exact=True).check()
    await page.get_by_label("Outcome", exact=True).select_option("send_to_mash")
    await page.get_by_label("Notes (for the hub only)").fill("Rang back at 18:10, safe.")
    await page.get_by_role("button", name="Save", exact=True).click()
    await expect(page.get_by_role("status")).to_contain_text("Saved.")

    await page.get_by_label("Outcome template").select_option("send_to_mash")
    await page.get_by_label("Your message").fill("A social worker will phone you after 6pm.")
    await page.get_by_role("button", name="Send reply").click()
    await expect(page.get_by_role("status")).to_contain_text("Your reply is on its way")
    await _shot(page, "3-replied")
    await context.close()

    async with sqlite_db.transaction() as session:
        items = list((await session.scalars(
            select(OutboxItem).where(OutboxItem.contact_id == red.id))).all())
    assert len(items) == 1
    assert (items[0].channel, items[0].chat) == ("telegram", "424242")
    reply = Reply.from_json(items[0].payload)
    assert "A social worker will phone you after 6pm." in reply.text
    assert red.reference in reply.text and reply.language in ("pl", "en")
