"""No personal data reaches the logs: not in-process at DEBUG, not in the real bot's log file."""

from __future__ import annotations

import logging

import pytest

from bot.runtime import setup_logging
from tests.support.botproc import TelegramUser
from tests.support.chat import PARENT_JOURNEY, Chat, play

# Distinctive values a family types; none may appear in any log line.
SECRETS = ("Marisol", "Zebedee", "17 Quillfeather Road", "UB8 2ZZ", "07911 765432",
           "Zebedee's dad hits the wall when he drinks")


def personal_journey() -> list[tuple[str, str]]:
    replace = {"Maria": SECRETS[0], "Amy": SECRETS[1], "12 High Street": SECRETS[2],
               "UB8 1QS": SECRETS[3], "07911 123456": SECRETS[4]}
    steps = [(a, replace.get(v, v)) for a, v in PARENT_JOURNEY]
    at = next(i for i, (_, v) in enumerate(steps) if v.startswith("Amy has been"))
    steps[at] = ("say", SECRETS[5])
    return steps


def leaked(text: str) -> list[str]:
    return [s for s in SECRETS if s.lower() in text.lower()]


async def test_a_whole_conversation_logs_nothing_personal_even_at_debug(db, caplog):
    setup_logging("DEBUG")  # as FRONTDOOR_LOG_LEVEL=DEBUG would
    caplog.set_level(logging.DEBUG)
    chat = Chat(db)
    await play(chat, personal_journey())
    await chat.click("submit")
    await chat.command("status")
    lines = [f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records]
    assert leaked("\n".join(lines)) == [], sorted({line.split()[0] for line in lines
                                                   if leaked(line)})


@pytest.mark.slow
async def test_the_bot_process_log_has_no_personal_data(db_url, fake, bot):
    user = TelegramUser(fake, 5151)
    await user.play(personal_journey())
    await user.click("submit")
    assert "SFH-" in user.last["text"]
    assert leaked(bot.log()) == []
