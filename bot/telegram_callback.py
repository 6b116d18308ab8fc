"""What a Telegram button sends back (callback_data): its choice and the question it answers
(flows/questions.py). A module of its own, free of aiogram, so tools that only read buttons
(the load harness, test helpers) don't load the bot's Telegram stack."""

from __future__ import annotations

CALLBACK_LIMIT = 64  # bytes of callback_data Telegram keeps
QUESTION_MARK = "~"  # choice id ~ question token; never in a choice id


def callback_data(choice: str, question: str) -> str:
    """The choice and its question, or the choice alone when there is no question or no room
    for it."""
    data = f"{choice}{QUESTION_MARK}{question}" if question else choice
    return data if len(data.encode()) <= CALLBACK_LIMIT else choice[:CALLBACK_LIMIT]


def parse_callback(data: str) -> tuple[str, str]:
    """(choice, question) from a button's callback_data; question "" when it carries none."""
    choice, _, question = data.partition(QUESTION_MARK)
    return choice, question
