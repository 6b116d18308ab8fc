"""What a long-running worker holds: libraries only a rare path needs stay out of it (PDF export,
Alembic), and batch statements keep one SQL text whatever their size, so PostgreSQL's
per-connection statement caches stay small. Each of these once cost 10-20 MB per worker."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import event, select

from flows.types import Kind, Message, Reply
from storage import abuse, repo
from storage.batch_sql import among
from storage.crypto import DataKeyError
from storage.db import Database
from storage.migrate import upgrade, upgrade_sync
from storage.models import InboxItem, OutboxItem
from storage.types import utcnow

ROOT = Path(__file__).resolve().parents[1]

WORKER_IMPORTS = """
import sys
import bot.cli
bot.cli.build_parser()  # every subcommand module, as `frontdoor run` loads them
import bot.app, bot.web, triage.web, triage.alerts, bot.telegram
heavy = sorted(m for m in ("fpdf", "fontTools", "PIL", "alembic", "mako", "pygments")
               if m in sys.modules)
print(",".join(heavy))
"""


def test_a_worker_imports_neither_the_pdf_library_nor_alembic() -> None:
    result = subprocess.run([sys.executable, "-c", WORKER_IMPORTS], cwd=ROOT,
                            capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.strip() == ""


async def test_start_up_migration_runs_in_a_child_process(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def not_here(*_args: object) -> None:
        raise AssertionError("migrated inside the worker")

    monkeypatch.setattr("storage.migrate.upgrade_sync", not_here)
    url = f"sqlite+aiosqlite:///{tmp_path / 'new.sqlite3'}"
    await upgrade(url)
    db = Database(url)
    try:
        async with db.transaction() as session:
            assert await session.scalar(select(InboxItem.id)) is None  # tables exist
    finally:
        await db.dispose()


async def test_a_data_key_error_in_the_migration_reaches_the_operator(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A database from before encryption at rest, holding a conversation: migrating it needs
    # the data key, and the one configured is not a key.
    path = tmp_path / "old.sqlite3"
    await asyncio.to_thread(upgrade_sync, f"sqlite+aiosqlite:///{path}", "0004")
    with sqlite3.connect(path) as plain:
        plain.execute("INSERT INTO conversations (channel, chat, language, journey, run, state, "
                      "status, created_at, last_activity_at) VALUES ('test', '1', 'en', "
                      "'parent', 1, '{\"child\": \"Sam\"}', 'open', '2026-01-01', '2026-01-01')")
    monkeypatch.setenv("FRONTDOOR_DATA_KEYS", "not-a-key")
    with pytest.raises(DataKeyError, match=r"^Entry 1 of FRONTDOOR_DATA_KEYS is not a data key"):
        await upgrade(f"sqlite+aiosqlite:///{path}")


def inbound(chat: str, n: int) -> Message:
    return Message("test", chat, Kind.TEXT, text=f"hello {n}", external_id=f"{chat}-{n}")


async def test_batches_of_any_size_share_one_statement_text(db: Database) -> None:
    statements: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", seen)
    try:
        for size in (1, 2, 7):
            chats = [f"s{size}-{i}" for i in range(size)]
            async with db.transaction() as session:
                await repo.store_inbound(session, [inbound(chat, 0) for chat in chats])
                await abuse.sender_statuses(session, "test", chats, now=utcnow(),
                                            burst_seconds=10)
                found = (await session.scalars(select(InboxItem.chat).where(
                    among(session, InboxItem.chat, chats)))).all()
                assert sorted(found) == sorted(chats)
                assert await repo.chats_with_unsent(session, "test", chats) == set()
                await repo.mark_sent_many(session, [])
                assert (await session.scalars(select(OutboxItem.id).where(
                    among(session, OutboxItem.id, [-1] * size)))).all() == []
                await repo.enqueue_replies(session, [("test", chat, Reply(f"hi {chat}"), None,
                                                      None) for chat in chats])
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", seen)
    texts = {" ".join(s.split()) for s in statements if not s.startswith(("BEGIN", "SAVEPOINT"))}
    if db.dialect == "postgresql":
        # store_inbound, two rate-limit reads, two lookups, chats_with_unsent,
        # enqueue_replies: 7 texts in all, not 7 per batch size.
        assert len(texts) == 7, texts
    else:
        assert len(texts) > 7  # SQLite keeps IN (...) and multi-row VALUES


async def test_a_batch_insert_keeps_order_and_skips_repeats(db: Database) -> None:
    async with db.transaction() as session:
        first = await repo.store_inbound(session, [inbound("o", n) for n in range(5)])
    async with db.transaction() as session:
        again = await repo.store_inbound(session, [inbound("o", n) for n in (3, 4, 5, 6)])
        rows = (await session.execute(select(InboxItem.external_id, InboxItem.payload)
                                      .order_by(InboxItem.id))).all()
    assert len(first) == 5 and again == {("test", "o-5"), ("test", "o-6")}
    assert [external for external, _ in rows] == [f"o-{n}" for n in range(7)]
    assert rows[6][1]["text"] == "hello 6"  # the encrypted payload reads back




async def test_replies_written_together_keep_their_order_and_lease(db: Database) -> None:
    async with db.transaction() as session:
        items = await repo.enqueue_replies(session, [
            ("test", "r1", Reply("first"), None, 60.0),
            ("test", "r2", Reply("other chat"), 7, None),
            ("test", "r1", Reply("second"), None, 60.0),
        ])
    async with db.transaction() as session:
        rows = (await session.scalars(select(OutboxItem).order_by(OutboxItem.id))).all()
    assert [i.id for i in items] == [r.id for r in rows]
    assert [(r.chat, Reply.from_json(r.payload).text, r.contact_id) for r in rows] == [
        ("r1", "first", None), ("r2", "other chat", 7), ("r1", "second", None)]
    leased, due = rows[0], rows[1]
    assert 59 <= (leased.next_attempt_at - leased.created_at).total_seconds() <= 60
    assert due.next_attempt_at == due.created_at and due.sent_at is None


def test_malloc_arenas_are_capped_unless_the_operator_chose() -> None:
    # In a child process: the cap is process-wide and must not leak into the test run.
    code = ("import os; from bot import glibc_malloc; "
            "os.environ['MALLOC_ARENA_MAX'] = '4'; mine = glibc_malloc.cap_arenas(); "
            "del os.environ['MALLOC_ARENA_MAX']; print(mine, glibc_malloc.cap_arenas())")
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60, check=True)
    # The operator's setting stands; otherwise capped (glibc: Debian, CI).
    assert result.stdout.split() == ["False", "True"]


SERVE_AND_COUNT_FROZEN = """
import asyncio, gc, socket
from bot.app import serve
from bot.settings import Settings

async def main():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = Settings(**{**Settings.from_env().__dict__, "port": port})
    stop = asyncio.Event()
    task = asyncio.create_task(serve(settings, stop=stop))
    for _ in range(600):  # start-up takes a few seconds
        if gc.get_freeze_count() or task.done():
            break
        await asyncio.sleep(0.05)
    frozen = gc.get_freeze_count()
    trimming = any(t.get_name() == "malloc-trim" for t in asyncio.all_tasks())
    stop.set()
    await task
    print(frozen, trimming)

asyncio.run(main())
"""


def test_a_running_worker_freezes_its_start_up_heap_and_trims_the_rest(
        tmp_path: Path) -> None:
    # A full collection walked every start-up object (NLU models, aiogram's types...): about a
    # tenth of the bot's CPU under load. The heap's free space grew by 20 MB over a long run
    # until it was trimmed. A child process: both are process-wide.
    env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'w.sqlite3'}",
           "TELEGRAM_BOT_TOKEN": ""}
    result = subprocess.run([sys.executable, "-c", SERVE_AND_COUNT_FROZEN], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120, check=True)
    frozen, trimming = result.stdout.split()[-2:]
    assert int(frozen) > 100_000
    assert trimming == "True"


FRAGMENT_AND_TRIM = """
from bot import glibc_malloc

def rss_mb():
    with open("/proc/self/status") as status:
        return next(int(l.split()[1]) for l in status if l.startswith("VmRSS")) / 1024

blocks = [bytearray(16_000) for _ in range(4_000)]  # 64 MB of blocks on the heap
del blocks[::2]  # every other one freed: 32 MB of holes between live blocks
before = rss_mb()
glibc_malloc.trim()
print(before - rss_mb())
"""


def test_trimming_gives_the_holes_in_the_heap_back() -> None:
    result = subprocess.run([sys.executable, "-c", FRAGMENT_AND_TRIM], cwd=ROOT,
                            capture_output=True, text=True, timeout=60, check=True)
    assert float(result.stdout) > 10  # MB returned (glibc: Debian, CI); without a trim, none
