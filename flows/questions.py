"""Which question a set of buttons answers, so a press is only ever taken as an answer to it.

Telegram keeps every message's buttons pressable until the bot removes them, and it removes
them only after a press has arrived: a double tap sends two presses, and a question answered by
typing keeps its buttons. Most questions share ids like "yes", "no" and "skip", so without this
the second tap of a double tap was taken as the answer to the next question, which the person
had not even seen (a consent question, say), and an old "yes" could confirm a deletion.

Every reply with buttons carries the token of the question being asked when the turn ended
(`Reply.question`); a channel sends it back with the press (`Message.question`). A press whose
token is not the current question's is refused kindly and the current question asked again.
A press without a token (a channel that doesn't carry one, a message sent before this) is
taken as before.
"""

from __future__ import annotations

import zlib

from flows.types import Kind, Message

GLOBAL_PREFIX = "cmd:"  # buttons that run a command ("Start a new request"): valid any time


def token(run: int, journey: str, pos: str, pending: str) -> str:
    """Short and stable: the same question asked again gets the same token, so its earlier
    buttons still work; another question, another run or an offer in between gets another."""
    return format(zlib.crc32(f"{run}|{journey}|{pos}|{pending}".encode()), "x")


def is_stale(message: Message, current: str) -> bool:
    """A press on buttons that belong to another question than `current`."""
    return (message.kind == Kind.CHOICE and bool(message.question)
            and message.question != current and not message.choice.startswith(GLOBAL_PREFIX))
