"""The turn log (storage/turn_log.py): rows wait in the session and are written together, yet
every query in the transaction sees them, a rollback drops them, and order is kept. What an
officer would notice if it broke: a transcript missing the last message, or a message from an
abandoned transaction appearing in it. On SQLite and PostgreSQL (the `db` fixture)."""

from __future__ import annotations

import pytest
from sqlalchemy import event, func, select

from storage import turn_log
from storage.db import Database
from storage.models import Conversation, Turn


async def conversation(db: Database, chat: str) -> int:
    async with db.transaction() as session:
        conv = Conversation(channel="test", chat=chat, language="en", state={}, run=1)
        session.add(conv)
        await session.flush()
        return conv.id


def log(session, conv_id: int, n: int) -> None:  # type: ignore[no-untyped-def]
    turn_log.add(session, conversation_id=conv_id, run=1, direction="in", step="start",
                 kind="text", text=f"message {n}")


async def test_a_query_in_the_same_transaction_sees_the_turns_just_logged(db: Database) -> None:
    conv_id = await conversation(db, "seen")
    async with db.transaction() as session:
        log(session, conv_id, 1)
        log(session, conv_id, 2)
        assert turn_log.pending(session) == 2
        texts = (await session.scalars(select(Turn.text).where(Turn.conversation_id == conv_id)
                                       .order_by(Turn.id))).all()
        assert texts == ["message 1", "message 2"]
        assert turn_log.pending(session) == 0
        log(session, conv_id, 3)  # written at commit
    async with db.transaction() as session:
        texts = (await session.scalars(select(Turn.text).order_by(Turn.id))).all()
    assert texts == ["message 1", "message 2", "message 3"]


async def test_a_rolled_back_transaction_leaves_no_turns_behind(db: Database) -> None:
    conv_id = await conversation(db, "rolled")
    with pytest.raises(RuntimeError):
        async with db.transaction() as session:
            log(session, conv_id, 1)
            raise RuntimeError("the turn failed")
    async with db.sessions() as session:  # one session, two transactions
        async with session.begin():
            log(session, conv_id, 2)
            await session.rollback()
        async with session.begin():
            await session.execute(select(1))
        assert turn_log.pending(session) == 0
    async with db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(Turn)) == 0


async def test_turns_of_many_chats_go_in_one_statement_in_order(db: Database) -> None:
    chats = [await conversation(db, f"many-{i}") for i in range(5)]
    inserts: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("INSERT INTO TURNS"):
            inserts.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", seen)
    try:
        async with db.transaction() as session:
            for n in range(3):
                for conv_id in chats:
                    log(session, conv_id, n)
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", seen)
    assert len(inserts) == 1
    async with db.transaction() as session:
        rows = (await session.execute(select(Turn.conversation_id, Turn.text)
                                      .order_by(Turn.id))).all()
    assert rows == [(conv_id, f"message {n}") for n in range(3) for conv_id in chats]


async def test_a_savepoint_rolled_back_drops_only_the_turns_logged_inside_it(
        db: Database) -> None:
    conv_id = await conversation(db, "savepoint")
    async with db.transaction() as session:
        log(session, conv_id, 1)  # before the savepoint: must survive its rollback
        with pytest.raises(RuntimeError):
            async with session.begin_nested():
                log(session, conv_id, 2)
                await session.execute(select(Turn.id))  # a statement inside the savepoint
                raise RuntimeError("a retry, as create_contact's on a reference collision")
        async with session.begin_nested():  # a savepoint released: its rows stay
            log(session, conv_id, 3)
            await session.execute(select(Turn.id))
        log(session, conv_id, 4)
    async with db.transaction() as session:
        texts = (await session.scalars(select(Turn.text).order_by(Turn.id))).all()
    assert texts == ["message 1", "message 3", "message 4"]
