"""Issue 4 end to end: a child in danger reported on Telegram reaches the duty officer.

The real `frontdoor run` process talks to the local fake Bot API. Older contacts wait in the
queue; a parent then reports danger on Telegram and is told to call 999 in the same reply; the
duty chat gets an alert with no personal details; an officer signs in to the console in real
headless Chromium with 2FA, takes next (the red contact that arrived last), records an outcome
and a reply, and the reply reaches the parent on Telegram in their chat.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.async_api import expect

from storage.db import Database
from tests.support.botproc import BotProcess, TelegramUser
from tests.support.chromium import chromium
from tests.triage.conftest import add_contact, add_officer

pytestmark = pytest.mark.slow

DUTY_CHAT = 5550001
PARENT = 7007


async def test_red_contact_from_telegram_is_taken_first_and_the_reply_reaches_the_parent(
    db_url, fake, tmp_path: Path
):
    db = Database(db_url)
    officer = await add_officer(db, "olivia")
    for minutes in (120, 60):
        await add_contact(db, rag="amber", age_minutes=minutes, chat=f"8{minutes}",
                          complete=True)
    fake.push_command(DUTY_CHAT, "start")  # the duty chat has opened the bot
    bot = BotProcess(db_url, fake.base_url, tmp_path / "bot.log",
                     ALERT_CHAT_ID=str(DUTY_CHAT), FRONTDOOR_COOKIE_SECURE="0")
    await bot.start()
    try:
        parent = TelegramUser(fake, PARENT, language_code="en")
        await parent.command("start")
        replies = await parent.say("My partner is hitting my son right now, please help")
        assert "999" in replies[0]["text"]
        assert replies[0]["text"].index("999") < replies[0]["text"].index("01895 556006")
        alert = await fake.wait_for(lambda: [m for m in fake.sent(DUTY_CHAT)
                                             if "RED" in m["text"].upper()], timeout=10)
        assert "hitting" not in alert[-1]["text"]  # no personal details in the alert

        base = f"http://127.0.0.1:{bot.port}"
        async with chromium() as browser:
            page = await browser.new_page()
            await page.goto(f"{base}/console/")
            await page.get_by_label("Username").fill(officer.username)
            await page.get_by_label("Password").fill(officer.password)
            await page.get_by_role("button", name="Continue").click()
            await page.get_by_label("6-digit code").fill(officer.code())
            await page.keyboard.press("Enter")
            await expect(page.get_by_role("heading", name="Triage queue")).to_be_visible()
            await page.get_by_role("button", name="Take next contact").click()
            await expect(page.get_by_text("hitting my son right now")).to_be_visible()
            reference = page.url.rsplit("/", 1)[1]
            await page.get_by_label("Category").select_option("domestic_violence")
            await page.get_by_label("red", exact=True).check()
            await page.get_by_label("Outcome", exact=True).select_option("send_to_mash")
            await page.get_by_role("button", name="Save", exact=True).click()
            await expect(page.get_by_role("status")).to_contain_text("Saved.")
            await page.get_by_label("Your message").fill(
                "A social worker will call you back within the hour.")
            await page.get_by_role("button", name="Send reply").click()
            await expect(page.get_by_role("status")).to_contain_text("on its way")
            if os.environ.get("FRONTDOOR_SCREENSHOTS"):
                await page.screenshot(path=str(Path(os.environ["FRONTDOOR_SCREENSHOTS"])
                                               / "console-replied.png"), full_page=True)
        reply = await fake.wait_for(lambda: [m for m in fake.sent(PARENT)
                                             if "within the hour" in m["text"]], timeout=15)
        assert reference in reply[-1]["text"]
    finally:
        await bot.stop()
        await db.dispose()
