"""Triage benchmark on PostgreSQL: alert latency and take-next latency with 10,000 queued
contacts (targets: alert p99 <= 1 s, take-next p99 <= 50 ms).

    .venv/bin/python benchmarks/triage_bench.py [--admin-dsn postgresql://postgres@127.0.0.1/postgres]

Creates a throwaway database `frontdoor_bench_<random>`, migrates it, fills it, measures, and
drops it. Only talks to the given PostgreSQL server (loopback by default).
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.settings import Settings
from flows.events import CONTACT_RED, OUTBOX, EventBus
from profiles import load_profile
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Contact
from storage.types import utcnow
from triage import alerts, queue
from triage.sse import SseHub


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def report(name: str, seconds: list[float]) -> None:
    ms = [s * 1000 for s in seconds]
    print(f"{name:42} n={len(ms):5}  p50={pct(ms, 0.5):8.2f} ms  p99={pct(ms, 0.99):8.2f} ms  "
          f"max={max(ms):8.2f} ms  mean={statistics.fmean(ms):8.2f} ms")


async def fill(db: Database, count: int) -> None:
    now = utcnow()
    batch: list[dict[str, Any]] = []
    for i in range(count):
        red = i % 50 == 0
        batch.append({
            "reference": f"SFH-B{i:07d}", "source": "parent_carer", "journey": "self_referral",
            "channel": "telegram", "chat": str(i), "status": "new", "complete": True,
            "urgency": "urgent" if red else "standard", "rag": "red" if red else None,
            "urgency_rank": 1 if red else 2 + i % 4, "language": "en",
            "interpreter_needed": False, "handover": {"sections": []}, "risk_evidence": [],
            "notes": "", "safeguarding_hold": False, "run": 1,
            "created_at": now, "locality": "north",
        })
        if len(batch) == 2000:
            async with db.transaction() as session:
                await session.execute(insert(Contact), batch)
            batch = []
    if batch:
        async with db.transaction() as session:
            await session.execute(insert(Contact), batch)
    async with db.engine.begin() as conn:
        await conn.exec_driver_sql("ANALYZE contacts")


async def take_next_sequential(db: Database, n: int) -> list[float]:
    times = []
    for i in range(n):
        started = time.perf_counter()
        async with db.transaction() as session:
            contact = await queue.take_next(session, actor=f"bench{i % 5}", now=utcnow(),
                                            minutes=60)
        times.append(time.perf_counter() - started)
        assert contact is not None
    return times


async def take_next_concurrent(db: Database, workers: int, each: int) -> list[float]:
    times: list[float] = []

    async def worker(name: str) -> None:
        for _ in range(each):
            started = time.perf_counter()
            async with db.transaction() as session:
                await queue.take_next(session, actor=name, now=utcnow(), minutes=60)
            times.append(time.perf_counter() - started)

    await asyncio.gather(*(worker(f"officer{w}") for w in range(workers)))
    return times


async def alert_latency(db: Database, n: int) -> tuple[list[float], list[float]]:
    """Emit CONTACT_RED; time to the duty-chat outbox commit (OUTBOX signal) and to SSE."""
    bus = EventBus()
    profile = load_profile()
    service = alerts.start(db, profile, bus, Settings(alert_chat_id="-100200"),
                           sweep_seconds=0)
    hub = SseHub(profile)
    hub.attach(bus)
    console: asyncio.Queue[str | None] = asyncio.Queue()
    hub._clients.add(console)  # a stand-in for one open console
    outbox_done: asyncio.Queue[float] = asyncio.Queue()

    async def on_outbox(_event: dict[str, Any]) -> None:
        outbox_done.put_nowait(time.perf_counter())

    bus.subscribe(OUTBOX, on_outbox)
    to_outbox, to_console = [], []
    for i in range(n):
        started = time.perf_counter()
        bus.emit(CONTACT_RED, {"contact_id": i + 1, "reference": f"SFH-B{i:07d}",
                               "urgency": "immediate", "locality": "north", "language": "pl"})
        message = await asyncio.wait_for(console.get(), 5)
        assert message and message.startswith("event: red")
        to_console.append(time.perf_counter() - started)
        await console.get()  # the "queue changed" that follows
        to_outbox.append(await asyncio.wait_for(outbox_done.get(), 5) - started)
    await service.stop()
    return to_outbox, to_console


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admin-dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--takes", type=int, default=500)
    parser.add_argument("--alerts", type=int, default=200)
    args = parser.parse_args()
    name = f"frontdoor_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(args.admin_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    host_part = args.admin_dsn.split("://", 1)[1].rsplit("/", 1)[0]
    url = f"postgresql+asyncpg://{host_part}/{name}"
    try:
        await upgrade(url)
        db = Database(url)
        try:
            started = time.perf_counter()
            await fill(db, args.contacts)
            print(f"queued {args.contacts} contacts in {time.perf_counter() - started:.1f} s "
                  "(PostgreSQL)")
            report("take-next, one officer (full transaction)",
                   await take_next_sequential(db, args.takes))
            started = time.perf_counter()
            burst = await take_next_concurrent(db, 20, max(1, args.takes // 20))
            elapsed = time.perf_counter() - started
            report("take-next, 20 officers at the same instant", burst)
            print(f"{'':42} throughput {len(burst) / elapsed:.0f} take-next/s "
                  "(one Python process drives all 20)")
            to_outbox, to_console = await alert_latency(db, args.alerts)
            report("alert: CONTACT_RED -> duty outbox committed", to_outbox)
            report("alert: CONTACT_RED -> open console (SSE)", to_console)
            ok_alert = pct(to_outbox, 0.99) <= 1.0
            print(f"targets: alert p99 <= 1 s: {'met' if ok_alert else 'MISSED'}")
        finally:
            await db.dispose()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
