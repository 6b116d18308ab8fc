"""While the database is away nothing is lost: messages wait in order, and the person is told
at once, with the emergency numbers, without needing the database."""

from __future__ import annotations

import asyncio

from flows.engine import Engine
from flows.events import UNAVAILABLE, EventBus
from flows.processor import Processor
from flows.types import Flag, Kind, Message, Reply
from profiles import load_profile
from storage import repo
from storage.db import Database


async def test_messages_wait_in_order_and_the_person_is_told_while_the_database_is_away(
    sqlite_template, tmp_path
):
    good = Database(sqlite_template.copy(tmp_path))
    down = Database("postgresql+asyncpg://postgres@127.0.0.1:1/unreachable")
    bus = EventBus()
    notices: list[dict] = []

    async def on_unavailable(event: dict) -> None:
        notices.append(event)

    bus.subscribe(UNAVAILABLE, on_unavailable)
    processor = Processor(down, Engine(load_profile()), bus)
    first = Message("test", "c1", Kind.COMMAND, command="start", external_id="1")
    second = Message("test", "c1", Kind.CHOICE, choice="start", external_id="2")
    assert await processor.accept(first) is True
    assert await processor.accept(second) is True
    await asyncio.sleep(0.05)
    assert len(notices) == 2
    notice: Reply = notices[0]["reply"]
    assert Flag.URGENT in notice.flags and "999" in notice.text and "01895 556006" in notice.text
    processor.db = good  # the database is back
    for _ in range(100):
        if not processor._spool:
            break
        await asyncio.sleep(0.1)
    await processor.idle()
    async with good.transaction() as session:
        replies = [Reply.from_json(i.payload) for i in await repo.pending_outbox(session, "test")]
    assert "qualified social worker" in replies[0].text  # /start, then the Start button:
    assert "Who are you?" in replies[-1].text  # both handled, in order
    await good.dispose()
    await down.dispose()


async def test_a_database_error_that_is_a_bug_is_told_apart_from_an_outage(
    sqlite_template, tmp_path, monkeypatch, caplog
):
    # A statement the database refuses (a code bug) is held like an outage, so nothing is
    # lost, but the log must not make it look like the database went away.
    from sqlalchemy.exc import OperationalError, ProgrammingError

    db = Database(sqlite_template.copy(tmp_path))
    processor = Processor(db, Engine(load_profile()), EventBus())

    async def refused(*_args, **_kwargs):
        raise ProgrammingError("INSERT ...", {}, Exception("no such column"))

    monkeypatch.setattr(repo, "store_inbound", refused)
    with caplog.at_level("ERROR", logger="frontdoor.processor"):
        await processor.accept(Message("test", "c1", Kind.TEXT, text="hi", external_id="1"))
    assert "not a lost connection (ProgrammingError from Exception)" in caplog.text
    assert len(processor._spool) == 1  # held, not lost

    caplog.clear()

    async def away(*_args, **_kwargs):
        raise OperationalError("INSERT ...", {}, Exception("connection refused"))

    monkeypatch.setattr(repo, "store_inbound", away)
    other = Processor(db, Engine(load_profile()), EventBus())  # nothing held yet
    with caplog.at_level("ERROR", logger="frontdoor.processor"):
        await other.accept(Message("test", "c2", Kind.TEXT, text="hi", external_id="2"))
    assert "not a lost connection" not in caplog.text and "database unavailable" in caplog.text
    for held in (processor, other):  # the held messages are stored once the writes work
        assert held._spool_task is not None
        await asyncio.wait_for(held._spool_task, 20)
        await held.idle()
    await db.dispose()
