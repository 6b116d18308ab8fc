"""Horizontal scale: three `frontdoor run` workers in webhook mode behind a round-robin proxy,
sharing PostgreSQL, serving many people at once; then the faults a council will meet:
Bot API 429 and 502 storms, failed webhook deliveries, duplicate updates, and a worker killed
mid-turn. After each, every person got exactly the replies one worker would give, in order,
and every contact, inbox row and reply exists exactly once.
"""

from __future__ import annotations

import asyncio
import copy

import pytest
import pytest_asyncio

from storage.db import Database
from tests.fake_bot_api import FakeBotAPI
from tests.support.chat import PARENT_JOURNEY
from tests.support.workers import CheckedUser, WorkerPool, exactly_once, reference_turns

pytestmark = [pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]

JOURNEY = [*PARENT_JOURNEY, ("click", "submit")]
SHORT = JOURNEY[:12]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def reference(sqlite_template, tmp_path_factory):
    """The replies a single worker gives to each step of the journey."""
    db = Database(sqlite_template.copy(tmp_path_factory.mktemp("reference")))
    try:
        yield await reference_turns(db, JOURNEY)
    finally:
        await db.dispose()


@pytest.fixture(scope="module")
def pg_url(pg_template):
    """Horizontal scale is a PostgreSQL deployment: SQLite serves one process."""
    url = pg_template.copy()
    yield url
    pg_template.drop(url)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def pool(pg_url, tmp_path_factory):
    url = pg_url
    # Telegram retries a failed webhook for hours; the fake gives up after this many.
    async with FakeBotAPI(webhook_retries=12) as fake:
        workers = WorkerPool(url, fake, tmp_path_factory.mktemp("workers"))
        await workers.start()
        try:
            yield workers
        finally:
            await workers.stop()


async def test_many_people_at_once_across_three_workers(pool, reference):
    users = [CheckedUser(pool.fake, 10_000 + n, reference) for n in range(20)]
    await asyncio.gather(*(u.play(JOURNEY) for u in users))
    await exactly_once(pool.db_url, pool.fake, users, submitted=True)
    served = {f.backend for f in pool.proxy.log if f.status == 200}
    assert served == {w.port for w in pool.workers}  # every worker took its share
    assert "Your reference is" in users[0].texts()[-1]


async def test_bot_api_429_and_502_storms_and_failed_webhook_deliveries(pool, reference):
    fake = pool.fake
    users = [CheckedUser(fake, 20_000 + n, reference) for n in range(10)]
    await asyncio.gather(*(u.step(0, *SHORT[0]) for u in users))
    fake.fail_ratio("sendMessage", 0.3, status=429, seed=1, retry_after=1)
    pool.proxy.fail_ratio = 0.25  # a quarter of webhook deliveries fail and are retried
    try:
        await asyncio.gather(*(u.play(SHORT[:6], start=1) for u in users))
        fake.fail_ratio("sendMessage", 0.3, status=502, seed=2)
        await asyncio.gather(*(u.play(SHORT, start=6) for u in users))
    finally:
        fake.reset_faults()
        pool.proxy.fail_ratio = 0.0
    statuses = [r["status"] for r in fake.requests() if r["method"] == "sendMessage"]
    assert 429 in statuses and 502 in statuses
    assert any(f.status == 502 and f.backend is None for f in pool.proxy.log)
    await exactly_once(pool.db_url, pool.fake, users, submitted=False)


async def test_the_same_update_twice_to_different_workers_is_handled_once(pool, reference):
    fake = pool.fake
    user = CheckedUser(fake, 30_000, reference)
    await user.play(SHORT[:3])
    pushed = fake.push_text(30_000, "Maria")  # answers "What's your first name?"
    update = next(u for u in fake.pending_updates if u["update_id"] == pushed)
    user.pushed.append(pushed)
    await user.wait(3)
    fake.push_raw(copy.deepcopy(update))
    await fake.wait_for(lambda: len(pool.proxy.served(pushed)) >= 2, timeout=20)
    backends = [f.backend for f in pool.proxy.served(pushed)]
    assert len(set(backends)) == 2  # the copy went to another worker
    # A worker handles an update but its answer is lost: Telegram sends it again, elsewhere.
    pool.proxy.lose_responses = 1
    await user.step(4, *SHORT[4])
    await fake.wait_for(lambda: len(pool.proxy.served(user.pushed[-1])) >= 2, timeout=20)
    served = pool.proxy.served(user.pushed[-1])
    assert served[0].lost and served[-1].status == 200 and served[-1].backend != served[0].backend
    await user.play(SHORT, start=5)
    await exactly_once(pool.db_url, pool.fake, [user], submitted=False)


async def test_a_worker_killed_mid_turn_loses_and_repeats_nothing(pool, reference):
    users = [CheckedUser(pool.fake, 40_000 + n, reference) for n in range(12)]
    for user in users:  # what the victim had in flight when killed may come twice, no more
        user.may_resend = 1
    await asyncio.gather(*(u.play(JOURNEY[:6]) for u in users))
    victim = pool.workers[1]

    async def kill_mid_turn() -> None:
        # Wait until the victim is in the middle of handling someone's message.
        before = sum(1 for f in pool.proxy.log if f.backend == victim.port)
        await pool.fake.wait_for(
            lambda: sum(1 for f in pool.proxy.log if f.backend == victim.port) > before + 3,
            timeout=30,
        )
        victim.kill()

    await asyncio.gather(kill_mid_turn(), *(u.play(JOURNEY, start=6) for u in users))
    assert victim.proc is not None and victim.proc.returncode == -9
    await exactly_once(pool.db_url, pool.fake, users, submitted=True)
    await pool.restart(1)  # the pool is whole again for whatever runs next
