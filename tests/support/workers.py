"""Several `frontdoor run` workers in webhook mode behind one round-robin proxy, sharing one
database, as a council would scale the bot; and people who check every reply they get against
what a single worker says to the same messages."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from sqlalchemy import func, select

from bot.telegram import _chunks
from flows.types import Flag, Reply
from storage.db import Database
from storage.models import Contact, InboxItem, OutboxItem
from tests.fake_bot_api import FakeBotAPI
from tests.support.botproc import BotProcess
from tests.support.buttons import offered
from tests.support.chat import Chat
from tests.support.proxy import RoundRobinProxy

SECRET = "shared-Secret_for-every-worker"
AWAY_NOTICE = "can't save messages right now"  # Processor._tell_unavailable
LEASE = "4"  # seconds: a killed worker's claimed replies are re-sent this soon


class WorkerPool:
    def __init__(self, db_url: str, fake: FakeBotAPI, logs: Path, size: int = 3) -> None:
        self.db_url = db_url
        self.fake = fake
        self.logs = logs
        self.workers = [self._new(n) for n in range(size)]
        self.proxy = RoundRobinProxy([w.port for w in self.workers])
        for worker in self.workers:
            worker.env["WEBHOOK_URL"] = self.proxy.url

    def _new(self, n: int) -> BotProcess:
        process = BotProcess(
            self.db_url,
            self.fake.base_url,
            self.logs / f"worker{n}.log",
            WEBHOOK_SECRET=SECRET,
            FRONTDOOR_OUTBOX_LEASE=LEASE,
        )
        if hasattr(self, "proxy"):
            process.env["WEBHOOK_URL"] = self.proxy.url
        return process

    async def start(self) -> None:
        await self.proxy.start()
        await asyncio.gather(*(w.start() for w in self.workers))
        await self.fake.wait_for(lambda: self.fake.stats()["webhook"], timeout=30)

    async def restart(self, n: int) -> None:
        """A new process in place of worker `n` (after a kill), behind the same proxy."""
        old = self.workers[n]
        self.workers[n] = self._new(n)
        self.proxy.replace_backend(old.port, self.workers[n].port)
        await self.workers[n].start()

    async def stop(self) -> None:
        await asyncio.gather(*(w.stop() for w in self.workers))
        await self.proxy.stop()

    def logs_text(self) -> str:
        return "\n".join(w.log() for w in self.workers)


def telegram_texts(replies: list[Reply]) -> list[str]:
    """What a Telegram user sees for these replies (warning sign, long ones split)."""
    out: list[str] = []
    for reply in replies:
        text = reply.text
        if Flag.EMERGENCY in reply.flags or Flag.URGENT in reply.flags:
            text = "⚠️ " + text
        out.extend(_chunks(text) or [" "])
    return out


async def reference_turns(db: Database, steps: list[tuple[str, str]]) -> list[list[str]]:
    """The replies a single in-process worker gives to each step, as Telegram shows them."""
    chat = Chat(db, chat="reference", channel="telegram")
    return [telegram_texts(await getattr(chat, action)(value)) for action, value in steps]


_REFERENCE = re.compile(r"\b[A-Z]{2,5}-[0-9A-Z]{6}\b")


def same(text: str) -> str:
    """A contact reference differs between runs; everything else must match exactly."""
    return _REFERENCE.sub("REF", text)


class CheckedUser:
    """A Telegram user who, after each step, waits for exactly the replies a single worker
    gives, and fails on anything missing, duplicated or out of order.

    `may_resend`: how many replies may arrive twice in a row. Only a SIGKILL allows one: a
    worker killed after Telegram took a reply but before it noted that re-sends that one.
    """

    def __init__(self, fake: FakeBotAPI, chat_id: int, reference: list[list[str]]) -> None:
        self.fake = fake
        self.chat_id = chat_id
        self.reference = reference
        self.expected: list[str] = []
        self.pushed: list[int] = []
        self.may_resend = 0

    def all_texts(self) -> list[str]:
        return [m["text"] for m in self.fake.sent(self.chat_id, methods=["sendMessage"])]

    def notices(self) -> list[str]:
        return [t for t in self.all_texts() if AWAY_NOTICE in t]

    def texts(self) -> list[str]:
        """The journey's replies, without "we're away" notices (not part of any journey)."""
        return [t for t in self.all_texts() if AWAY_NOTICE not in t]

    def journey(self) -> list[str]:
        """The replies as compared: references masked, allowed re-sends taken out."""
        expected = [same(t) for t in self.expected]
        out: list[str] = []
        resent = 0
        for text in map(same, self.texts()):
            if len(out) < len(expected) and text == expected[len(out)]:
                out.append(text)
            elif out and text == out[-1] and resent < self.may_resend:
                resent += 1
            else:
                out.append(text)
        return out

    def buttons(self) -> dict[str, str]:
        """choice id -> callback_data of the last message's buttons."""
        return offered(self.fake.sent(self.chat_id, methods=["sendMessage"])[-1])

    def push(self, action: str, value: str) -> int:
        if action == "command":
            return self.fake.push_command(self.chat_id, value)
        if action == "say":
            return self.fake.push_text(self.chat_id, value)
        buttons = self.buttons()
        assert value in buttons, f"chat {self.chat_id}: {value!r} not offered"
        return self.fake.push_callback(self.chat_id, buttons[value])

    async def step(self, n: int, action: str, value: str, timeout: float = 60) -> None:
        self.pushed.append(self.push(action, value))
        await self.wait(n, timeout)

    async def wait(self, n: int, timeout: float = 60) -> None:
        """Until the replies to steps 0..n are all here; then they must be exactly those."""
        self.expected = [t for turn in self.reference[: n + 1] for t in turn]
        try:
            await self.fake.wait_for(
                lambda: len(self.journey()) >= len(self.expected), timeout=timeout
            )
        except TimeoutError:
            raise AssertionError(
                f"chat {self.chat_id}: no reply to step {n}: {self.texts()[-3:]!r}"
            ) from None
        got = self.journey()
        assert got[: len(self.expected)] == [same(t) for t in self.expected], (
            f"chat {self.chat_id} after step {n}"
        )

    async def play(self, steps: list[tuple[str, str]], start: int = 0) -> None:
        for n, (action, value) in enumerate(steps[start:], start):
            await self.step(n, action, value)

    def check_nothing_extra(self) -> None:
        got = self.journey()
        assert got == [same(t) for t in self.expected], f"chat {self.chat_id}: extra replies"


async def settle(fake: FakeBotAPI, users: list[CheckedUser], quiet: float = 1.5) -> None:
    """Wait until nothing new is sent for `quiet` seconds (late duplicates would show)."""
    before = -1
    while True:
        count = sum(len(u.texts()) for u in users)
        if count == before:
            return
        before = count
        await asyncio.sleep(quiet)


async def exactly_once(
    db_url: str, fake: FakeBotAPI, users: list[CheckedUser], *, submitted: bool
) -> None:
    """Every update stored and handled once, every reply sent once, one contact a person."""
    await settle(fake, users)
    for user in users:
        user.check_nothing_extra()
    db = Database(db_url)
    try:
        async with db.transaction() as session:
            for user in users:
                chat = str(user.chat_id)
                inbox = (
                    await session.execute(
                        select(InboxItem.external_id, InboxItem.processed_at).where(
                            InboxItem.channel == "telegram", InboxItem.chat == chat
                        )
                    )
                ).all()
                assert sorted(int(e) for e, _ in inbox) == sorted(user.pushed), chat
                assert all(done is not None for _, done in inbox), chat
                unsent = await session.scalar(
                    select(func.count())
                    .select_from(OutboxItem)
                    .where(OutboxItem.chat == chat, OutboxItem.sent_at.is_(None))
                )
                assert unsent == 0, chat
                contacts = await session.scalar(
                    select(func.count()).select_from(Contact).where(Contact.chat == chat)
                )
                assert contacts == (1 if submitted else 0), chat
    finally:
        await db.dispose()
