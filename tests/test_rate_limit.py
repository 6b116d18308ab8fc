"""The per-conversation rate limit, through the real processor, engine and database.

Every test runs on SQLite and on PostgreSQL, with the profile's own limits (not scaled).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from flows.engine import Engine
from flows.events import EventBus
from flows.intake import RateLimits, judge
from flows.processor import Processor
from flows.types import Flag
from profiles import load_profile
from storage.abuse import SenderNotice
from storage.db import Database
from storage.models import Contact, InboxItem, Turn
from storage.types import utcnow
from tests.support.chat import Chat

LIMITS = RateLimits.from_profile(load_profile())
DANGER = "Dad is hitting my little brother right now and he is bleeding"


def real_chat(db: Database, **kwargs: object) -> Chat:
    processor = Processor(db, Engine(load_profile()), EventBus())  # the profile's limits
    return Chat(db, processor=processor, **kwargs)  # type: ignore[arg-type]


async def inbox_rows(db: Database, chat: str = "1") -> int:
    async with db.transaction() as session:
        return int(await session.scalar(
            select(func.count()).select_from(InboxItem).where(InboxItem.chat == chat)) or 0)


async def flood(chat: Chat, count: int) -> None:
    for n in range(count):
        await chat.say(f"ok {n}")


def test_the_profile_limits_leave_room_for_a_fast_typist() -> None:
    assert LIMITS.burst >= 10 and LIMITS.burst_seconds <= 10
    assert LIMITS.per_minute >= 30
    assert LIMITS.notice_every == timedelta(minutes=1)
    assert LIMITS.blocked_notice_every == timedelta(hours=1)


def test_judge_counts_the_burst_and_the_minute_separately() -> None:
    assert not judge(LIMITS, recent=LIMITS.burst - 1, last_minute=LIMITS.burst - 1,
                     block_id=None).refused
    assert judge(LIMITS, recent=LIMITS.burst, last_minute=LIMITS.burst, block_id=None).over_limit
    assert judge(LIMITS, recent=0, last_minute=LIMITS.per_minute, block_id=None).over_limit
    blocked = judge(LIMITS, recent=0, last_minute=0, block_id=7)
    assert blocked.refused and blocked.notice_kind == "blocked"


def test_a_profile_without_limits_is_refused_at_start_up() -> None:
    profile = load_profile()
    broken = type(profile)(**{**profile.__dict__, "raw": {
        k: v for k, v in profile.raw.items() if k != "rate_limits"}})
    with pytest.raises(ValueError, match="rate_limits"):
        RateLimits.from_profile(broken)


async def test_a_burst_over_the_limit_is_refused_once_with_the_notice(db: Database) -> None:
    chat = real_chat(db)
    await chat.command("start")
    await flood(chat, LIMITS.burst - 1)
    assert await inbox_rows(db) == LIMITS.burst

    [notice] = await chat.say("one too many")
    assert "sending messages very fast" in notice.text
    assert "999" in notice.text and "01895 556006" in notice.text
    assert Flag.URGENT in notice.flags
    assert await chat.say("and another") == []  # told once per window, not per message
    assert await chat.say("still going") == []
    assert await inbox_rows(db) == LIMITS.burst  # refused messages are not stored
    async with db.transaction() as session:
        words = list((await session.scalars(select(Turn.text))).all())
    assert "one too many" not in words and "still going" not in words


async def test_a_polish_speaker_is_told_in_polish(db: Database) -> None:
    chat = real_chat(db, language="pl")
    await chat.command("start")
    await flood(chat, LIMITS.burst - 1)
    [notice] = await chat.say("jeszcze")
    assert "bardzo szybko" in notice.text and "999" in notice.text


async def test_the_minute_window_and_its_end(db: Database) -> None:
    """Rows from 30 s ago count against the minute; rows from 2 minutes ago count for nothing."""
    chat = real_chat(db)
    now = utcnow()
    async with db.transaction() as session:
        for n in range(LIMITS.per_minute):
            session.add(InboxItem(channel="test", chat="1", external_id=f"old{n}",
                                  payload={"processed": True}, processed_at=now,
                                  received_at=now - timedelta(seconds=30)))
    [notice] = await chat.say("hello")
    assert "sending messages very fast" in notice.text
    async with db.transaction() as session:
        for row in (await session.scalars(select(InboxItem))).all():
            row.received_at = now - timedelta(minutes=2)
    replies = await chat.say("hello")
    assert replies and "sending messages very fast" not in replies[-1].text


async def test_the_notice_comes_again_after_its_window(db: Database) -> None:
    chat = real_chat(db)
    await chat.command("start")
    await flood(chat, LIMITS.burst - 1)
    assert len(await chat.say("too many")) == 1
    async with db.transaction() as session:
        notice = await session.scalar(select(SenderNotice))
        assert notice is not None and notice.kind == "rate"
        notice.sent_at = utcnow() - LIMITS.notice_every - timedelta(seconds=1)
    assert len(await chat.say("too many again")) == 1


async def test_an_over_limit_danger_disclosure_still_creates_the_red_contact(
        db: Database) -> None:
    chat = real_chat(db)
    await chat.command("start")
    await flood(chat, LIMITS.burst - 1)
    assert len(await chat.say("slow down?")) == 1  # over the limit now

    replies = await chat.say(DANGER)
    assert Flag.EMERGENCY in replies[0].flags and "999" in replies[0].text
    [contact] = await chat.contacts()
    assert contact.urgency == "immediate" and contact.rag == "red"
    assert ("contact.red", {"contact_id": contact.id, "reference": contact.reference,
                            "urgency": "immediate", "locality": contact.locality,
                            "language": "en"}) in chat.events
    async with db.transaction() as session:
        words = list((await session.scalars(select(Turn.text))).all())
    assert DANGER in words  # stored and in the transcript like any other message


async def test_two_processors_on_one_database_share_the_limit(db_url: str) -> None:
    """Two workers (own engines, own pools) on one database: the count is the database's."""
    first, second = Database(db_url), Database(db_url)
    try:
        a, b = real_chat(first), real_chat(second)
        await a.command("start")
        for n in range(LIMITS.burst - 1):
            await (b if n % 2 else a).say(f"ok {n}")
        assert await inbox_rows(first) == LIMITS.burst
        [notice] = await b.say("over")
        assert "sending messages very fast" in notice.text
        assert await a.say("over again") == []  # the other worker knows it was told
        async with first.transaction() as session:
            assert await session.scalar(select(func.count()).select_from(Contact)) == 0
    finally:
        await first.dispose()
        await second.dispose()
