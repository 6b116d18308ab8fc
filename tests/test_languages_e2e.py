"""Families in their own language on Telegram: Polish and Somali, over the local fake Bot API.

The bot takes the language from Telegram's language_code, asks every question in it, reads
typed answers in it, and the contact reaches the queue marked with the language and the
interpreter answer.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from flows.i18n import translator
from storage.db import Database
from storage.models import Contact
from tests.support.botproc import TelegramUser
from tests.support.chat import PARENT_JOURNEY

pytestmark = pytest.mark.slow

# The free-text answers a parent would type, in their language.
WORDS = {
    "pl": {
        "situation": "Mój syn od miesiąca nie chce chodzić do szkoły i ciągle się kłócimy. "
                     "Jestem sama i nie daję rady.",
        "help": "Pomoc w wychowaniu i rozmowa ze szkołą",
        "limits": "Proszę nie mówić nic rodzinie mojego byłego męża",
    },
    "so": {
        "situation": "Wiilkaygu iskuulka ma aado bil ka hor, waanan la dagaallamaa. "
                     "Keligay ayaan ahay oo waan daalay.",
        "help": "Caawimaad waalidnimo iyo la hadal iskuulka",
        "limits": "Fadlan waxba ha u sheegin qoyska ninkaygii hore",
    },
}


def journey_in(language: str) -> list[tuple[str, str]]:
    words = WORDS[language]
    steps = []
    for action, value in PARENT_JOURNEY:
        if value.startswith("Amy has been"):
            value = words["situation"]
        elif value.startswith("Parenting support"):
            value = words["help"]
        elif value.startswith("Please don't share"):
            value = words["limits"]
        steps.append((action, value))
    # After the services question a non-English speaker is asked about an interpreter.
    at = steps.index(("click", "none"), 20) + 1
    steps.insert(at, ("click", "yes"))
    return steps


@pytest.mark.parametrize("language", ["pl", "so"])
async def test_a_parent_self_refers_in_their_own_language(db_url, fake, bot, language):
    t = translator(language)
    user = TelegramUser(fake, 8800 + len(language), language_code=language)
    await user.command("start")
    opening = user.last["text"]
    assert "999" in opening and "Hello." not in opening
    replies = await user.click("start")
    assert t("Who are you?") in replies[-1]["text"]
    replies = await user.play(journey_in(language)[2:])
    summary = replies[-1]["text"]
    assert t("Please check what you've told me.") in summary
    assert WORDS[language]["situation"] in summary  # their own words, unchanged
    replies = await user.click("submit")
    assert "SFH-" in replies[-1]["text"]
    assert t("Check my request") in str(replies[-1]["reply_markup"])
    db = Database(db_url)
    async with db.transaction() as session:
        contact = await session.scalar(select(Contact))
    await db.dispose()
    assert contact.language == language and contact.interpreter_needed
    sections = {a["step"]: a["answer"] for s in contact.handover["sections"]
                for a in s["answers"] if "step" in a}
    assert sections["situation"] == WORDS[language]["situation"]
    assert sections["who"] == "A parent or carer"  # the officer reads English labels
