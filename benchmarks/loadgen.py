"""Simulated Telegram users for the load benchmark, driving a bot through the fake Bot API.

Closed loop, like people: each user sends its next message only after the bot's whole reply
burst for the previous one has arrived, so one chat's order is always respected. How many
messages a burst holds is learnt once per bot by `calibrate` (one quiet user per journey,
waiting for silence); under load a user then waits for exactly that many, so no think time
is added and a lost or extra reply shows up as an error instead of skewing the figures.

Latency of a turn = the moment the update became available in the fake (push) -> the moment
the fake received the first sendMessage for that chat after it. Both clocks are the fake's
process clock (`time.time()`), so no cross-process skew.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.fake_bot_api import FakeBotAPI
from tests.support.buttons import offered
from tests.support.chat import PARENT_JOURNEY

Step = tuple[str, str]
SEND = ("sendMessage",)

DANGER = "My partner is hitting my son right now and I can't stop him"


@dataclass(frozen=True)
class Journey:
    name: str
    steps: tuple[Step, ...]


# A parent's full self-referral (buttons, names, dates, a postcode and free text for NLU).
PARENT = Journey("parent", (*PARENT_JOURNEY, ("click", "submit")))
# The red path: a danger disclosure mid-journey, a call back arranged, then the referral sent.
RED = Journey("danger", (
    *PARENT_JOURNEY[:21], ("say", DANGER), ("click", "yes"), ("say", "07911 123456"),
    ("click", "later"), ("say", "After 6pm when he has gone out"), *PARENT_JOURNEY[22:],
    ("click", "submit"),
))
# A 14-year-old asking for help for themselves (young person's consent rules).
YOUNG = Journey("young_person", (
    ("command", "start"), ("click", "start"), ("click", "young_person"), ("say", "14"),
    ("say", "Jo"), ("click", "prefer_not"), ("say", "Harefield Academy"), ("click", "no"),
    ("click", "not_involved"), ("click", "no"), ("click", "no_fixed_address"),
    ("say", "Things at home are really hard and I feel low all the time"),
    ("say", "Someone to talk to"), ("click", "skip"), ("click", "none"), ("click", "yes"),
    ("click", "yes"), ("click", "yes"), ("click", "no"), ("click", "yes"), ("click", "submit"),
))
JOURNEYS = (PARENT, RED, YOUNG)
# Which journey the n-th person plays: 3 parents : 1 danger disclosure : 1 young person.
ROTATION = (PARENT, PARENT, RED, PARENT, YOUNG)

Expected = dict[str, list[int]]  # journey name -> replies per step


class TurnError(Exception):
    """A turn that did not get its replies (timeout, missing button): the journey stops."""


def _push(fake: FakeBotAPI, chat_id: int, step: Step,
          buttons: dict[str, str]) -> Callable[[], int]:
    """`buttons`: the last message's (`_offered`), for a click."""
    action, value = step
    if action == "command":
        return lambda: fake.push_command(chat_id, value)
    if action == "say":
        return lambda: fake.push_text(chat_id, value)
    if action == "click":
        # The button's own callback_data (the bot may add its question to it); the echo
        # bot's buttons don't match the journeys' choices, so the choice itself then.
        data = buttons.get(value, value)
        return lambda: fake.push_callback(chat_id, data)
    raise ValueError(f"unknown action {action!r}")


def _offered(fake: FakeBotAPI, chat_id: int) -> dict[str, str]:
    """choice id -> callback_data of the last message's buttons."""
    sent = fake.sent(chat_id, SEND)
    return offered(sent[-1] if sent else None)


@dataclass
class Figures:
    """What one load run measured; latencies in seconds."""

    latencies: list[float] = field(default_factory=list)
    journeys_done: int = 0
    errors: list[str] = field(default_factory=list)
    started: float = 0.0
    finished: float = 0.0

    @property
    def turns(self) -> int:
        return len(self.latencies)

    @property
    def wall(self) -> float:
        return max(self.finished - self.started, 1e-9)

    def error(self, text: str) -> None:
        if len(self.errors) < 1000:
            self.errors.append(text)


async def _turn(fake: FakeBotAPI, chat_id: int, step: Step, expected: int | None,
                patience: float, quiet: float, check_buttons: bool) -> tuple[float, int]:
    """One message and its reply burst: (latency, replies received)."""
    buttons = _offered(fake, chat_id) if step[0] == "click" else {}
    if check_buttons and step[0] == "click" and step[1] not in buttons:
        raise TurnError(f"button {step[1]!r} not offered")
    before = len(fake.sent(chat_id, SEND))
    push = _push(fake, chat_id, step, buttons)
    push()
    pushed = time.time()
    try:
        sent = await fake.wait_for_sent(chat_id, before + max(expected or 1, 1), patience,
                                        methods=SEND)
    except TimeoutError as exc:
        raise TurnError(f"no reply within {patience:.0f}s") from exc
    latency = sent[before]["time"] - pushed
    if expected is None:  # calibrating: the burst is over after `quiet` seconds of silence
        while True:
            count = len(fake.sent(chat_id, SEND))
            await asyncio.sleep(quiet)
            if len(fake.sent(chat_id, SEND)) == count:
                break
    return latency, len(fake.sent(chat_id, SEND)) - before


async def calibrate(fake: FakeBotAPI, first_chat: int, *, quiet: float = 0.6,
                    patience: float = 30.0) -> Expected:
    """Plays every journey once, alone, and records how many replies each step gets."""

    async def one(journey: Journey, chat_id: int) -> list[int]:
        counts = []
        for step in journey.steps:
            _, n = await _turn(fake, chat_id, step, None, patience, quiet, True)
            counts.append(n)
        return counts

    results = await asyncio.gather(*(one(j, first_chat + i) for i, j in enumerate(JOURNEYS)))
    return {j.name: counts for j, counts in zip(JOURNEYS, results, strict=True)}


async def run_load(fake: FakeBotAPI, *, users: int, journeys: int, turns: int, first_chat: int,
                   expected: Expected | None, ramp: float, patience: float,
                   deadline: float) -> Figures:
    """`users` people, each playing `journeys` journeys back to back (each journey a new
    chat); `turns` > 0 stops everyone once that many turns have started. `expected=None`
    means one reply per turn (the echo bot)."""
    figures = Figures()
    budget = itertools.count()
    chats = itertools.count(first_chat)
    played: dict[int, tuple[Journey, int]] = {}  # chat -> (journey, steps sent)

    async def person(slot: int) -> None:
        await asyncio.sleep(ramp * slot / max(users, 1))
        for _ in range(journeys):
            chat_id = next(chats)
            journey = ROTATION[(chat_id - first_chat) % len(ROTATION)]
            counts = expected[journey.name] if expected else [1] * len(journey.steps)
            played[chat_id] = (journey, 0)
            for n, step in enumerate(journey.steps):
                if (turns and next(budget) >= turns) or time.monotonic() >= deadline:
                    return
                left = max(0.1, min(patience, deadline - time.monotonic()))
                try:
                    latency, _ = await _turn(fake, chat_id, step, counts[n], left, 0.0,
                                               expected is not None)
                except TurnError as exc:
                    figures.error(f"{journey.name} step {n}: {exc}")
                    played.pop(chat_id, None)
                    break
                played[chat_id] = (journey, n + 1)
                figures.latencies.append(latency)
                figures.finished = time.time()
            else:
                figures.journeys_done += 1

    figures.started = time.time()
    await asyncio.gather(*(person(slot) for slot in range(users)))
    await asyncio.sleep(1.0)  # anything still arriving now would be a reply too many
    for chat_id, (journey, steps) in played.items():
        counts = expected[journey.name] if expected else [1] * len(journey.steps)
        want, got = sum(counts[:steps]), len(fake.sent(chat_id, SEND))
        if got != want:
            figures.error(f"{journey.name}: {got} replies where {want} were expected")
    return figures


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def summary(figures: Figures) -> dict[str, Any]:
    return {
        "turns": figures.turns,
        "journeys": figures.journeys_done,
        "turns_per_s": figures.turns / figures.wall,
        "p50_ms": percentile(figures.latencies, 0.50) * 1000,
        "p95_ms": percentile(figures.latencies, 0.95) * 1000,
        "p99_ms": percentile(figures.latencies, 0.99) * 1000,
        "max_ms": max(figures.latencies, default=0.0) * 1000,
        "wall_s": figures.wall,
        "errors": len(figures.errors),
    }
