"""The load benchmark's harness (benchmarks/) and the hot-path savings it led to.

The harness must count what it claims: every turn of every journey, each reply burst in
full, latency from the update to the first reply. The savings must stay saved: one
transaction per processed message, and aiogram's response classes built once.
"""

from __future__ import annotations

import gc
import os
import re
import subprocess
import sys
import time
import weakref
from pathlib import Path

import pytest
from sqlalchemy import event

from flows.types import Kind, Message
from tests.fake_bot_api import DEFAULT_TOKEN, FakeBotAPI
from tests.support.chat import Chat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import loadgen  # noqa: E402


def test_percentiles_are_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert loadgen.percentile(values, 0.50) == 50
    assert loadgen.percentile(values, 0.99) == 99
    assert loadgen.percentile(values, 1.0) == 100
    assert loadgen.percentile([], 0.99) == 0.0


def test_the_journeys_mix_free_text_and_a_danger_disclosure():
    said = [v for j in loadgen.JOURNEYS for a, v in j.steps if a == "say"]
    assert loadgen.DANGER in said
    assert any(len(text.split()) > 8 for text in said)  # narrative text, so NLU runs
    assert all(j.steps[-1] == ("click", "submit") for j in loadgen.JOURNEYS)


@pytest.mark.slow
async def test_users_complete_their_journeys_against_the_echo_bot(fake: FakeBotAPI):
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": DEFAULT_TOKEN, "TELEGRAM_API_URL": fake.base_url}
    echo = subprocess.Popen([sys.executable, str(ROOT / "benchmarks" / "echo_bot.py")],
                            cwd=ROOT, env=env)
    try:
        await fake.wait_for(lambda: any(r["method"] == "getUpdates" for r in fake.requests),
                            timeout=60)
        figures = await loadgen.run_load(fake, users=5, journeys=1, turns=0, first_chat=500,
                                         expected=None, ramp=0.1, patience=30,
                                         deadline=time.monotonic() + 120)
    finally:
        echo.terminate()
        echo.wait(10)
    played = [loadgen.ROTATION[i % len(loadgen.ROTATION)] for i in range(5)]
    assert figures.errors == []
    assert figures.journeys_done == 5
    assert figures.turns == sum(len(j.steps) for j in played)
    assert all(0 < latency < 30 for latency in figures.latencies)
    summary = loadgen.summary(figures)
    assert summary["p50_ms"] <= summary["p95_ms"] <= summary["p99_ms"] <= summary["max_ms"]
    assert summary["turns_per_s"] > 0
    # Each turn got exactly its one echo: nothing lost, nothing counted twice.
    assert len(fake.sent(methods=["sendMessage"])) == figures.turns


async def test_a_message_is_accepted_and_processed_in_one_transaction_each(db):
    chat = Chat(db)
    await chat.command("start")  # the conversation exists; now count one ordinary turn
    begins: list[object] = []

    def on_begin(connection: object) -> None:
        begins.append(connection)

    event.listen(db.engine.sync_engine, "begin", on_begin)
    try:
        await chat.processor.accept(Message("test", chat.chat, Kind.CHOICE, choice="start",
                                            language="en", external_id="one-turn"))
        await chat.processor.idle(within=20)
    finally:
        event.remove(db.engine.sync_engine, "begin", on_begin)
    # accept (inbox insert) + the turn itself: no extra transaction to learn the chat is done
    assert len(begins) == 2


def test_aiogram_response_classes_survive_garbage_collection():
    from aiogram.methods import SendMessage
    from aiogram.methods.base import Response

    import bot.telegram  # noqa: F401  (holds the classes)

    generic: object = Response
    built = weakref.ref(generic[SendMessage.__returning__])  # type: ignore[index]
    gc.collect()
    assert built() is not None  # not rebuilt (about 5 ms) on the next sendMessage


@pytest.mark.slow
def test_the_benchmark_command_prints_its_figures_and_a_long_runs_memory() -> None:
    result = subprocess.run(
        [sys.executable, "benchmarks/load_bench.py", "--users", "3", "--backend", "sqlite",
         "--rounds", "2", "--no-results", "--max-seconds", "120"],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    for figure in ("turns/s", "p50 ms", "p95 ms", "p99 ms", "peak MB", "bot CPU"):
        assert figure in out
    assert re.search(r"^echo bot\s+3\s+\d+\s+3\s", out, re.M)  # every journey played
    assert re.search(r"^sqlite\s+3\s+\d+\s+3\s", out, re.M)
    assert re.search(r"sqlite\s+no errors .* 0 errors\s+PASS", out)
    rounds = re.search(r"sqlite: 2 rounds in one worker .*resident after each: "
                       r"([\d.]+), ([\d.]+) MB", out)
    assert rounds and all(float(mb) > 0 for mb in rounds.groups())
