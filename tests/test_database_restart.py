"""PostgreSQL restarted mid-conversation, under two webhook workers: while it is away each
person is told at once to wait, with the emergency numbers; once it is back every message is
answered in order and the conversations complete, with every contact stored exactly once.

The server restarted is a private throwaway cluster (tests/support/pgcluster.py), never the
shared one on 5432 that other tests use.
"""

from __future__ import annotations

import asyncio

import pytest

from storage.db import Database
from storage.migrate import upgrade_sync
from tests.fake_bot_api import FakeBotAPI
from tests.support.chat import PARENT_JOURNEY
from tests.support.pgcluster import PrivateCluster
from tests.support.workers import CheckedUser, WorkerPool, exactly_once, reference_turns

pytestmark = pytest.mark.slow

JOURNEY = [*PARENT_JOURNEY, ("click", "submit")]
AWAY = 12  # each person sends this step and the next while the database is away


@pytest.fixture
def cluster():
    with PrivateCluster() as server:
        yield server


async def test_postgres_restarted_mid_conversation(cluster, sqlite_template, tmp_path):
    reference_db = Database(sqlite_template.copy(tmp_path))
    reference = await reference_turns(reference_db, JOURNEY)
    await reference_db.dispose()
    url = await cluster.create_database("frontdoor")
    await asyncio.to_thread(upgrade_sync, url)
    async with FakeBotAPI(webhook_retries=12) as fake:
        pool = WorkerPool(url, fake, tmp_path, size=2)
        await pool.start()
        try:
            users = [CheckedUser(fake, 50_000 + n, reference) for n in range(4)]
            await asyncio.gather(*(u.play(JOURNEY[:AWAY]) for u in users))
            await asyncio.sleep(0.5)  # the last replies are marked sent
            await asyncio.to_thread(cluster.stop, "immediate")

            async def while_away(user: CheckedUser) -> None:
                # The partner's name: refused, so Telegram keeps it; the person is told.
                user.pushed.append(user.push(*JOURNEY[AWAY]))
                await fake.wait_for(user.notices, timeout=30)
                notice = user.notices()[0]
                assert "999" in notice and "01895 556006" in notice
                assert notice.startswith("⚠️ ")
                # His age, typed before any answer: it waits behind the name.
                user.pushed.append(user.push(*JOURNEY[AWAY + 1]))

            await asyncio.gather(*(while_away(u) for u in users))
            await asyncio.sleep(1)
            assert all(len(u.texts()) == len(u.expected) for u in users)  # no answer yet
            assert all(len(u.notices()) <= len(pool.workers) for u in users)  # not a flood
            await asyncio.to_thread(cluster.start)
            await asyncio.gather(*(u.wait(AWAY + 1) for u in users))  # answered, in order
            await asyncio.gather(*(u.play(JOURNEY, start=AWAY + 2) for u in users))
            await exactly_once(url, fake, users, submitted=True)
            assert {f.backend for f in pool.proxy.log if f.status == 200} == {
                w.port for w in pool.workers
            }
        finally:
            await pool.stop()
