"""Load benchmark: the real bot process under N concurrent simulated Telegram users.

    .venv/bin/python benchmarks/load_bench.py [--users 200] [--journeys 1] [--turns N]
        [--backend sqlite|postgres|both] [--max-seconds 300] [--no-results]

Runs `python -m bot.cli run` (long polling) against the fake Bot API (tests/fake_bot_api.py)
served in this process, on a throwaway SQLite file and/or a throwaway PostgreSQL database
(created on --admin-dsn, migrated, dropped afterwards), and a bare aiogram echo bot
(benchmarks/echo_bot.py) under the same harness as the baseline. Users play whole journeys
(benchmarks/loadgen.py), free text and danger disclosures included, closed loop.

Prints per run: turns, turns/s, p50/p95/p99 turn latency (update available -> first reply
received), peak memory (the bot's VmHWM), the bot's CPU per turn, the ratio of each figure
to the echo bot and PASS/MISS against the targets. Writes the same to benchmarks/RESULTS.md
(keeping its "## Notes" section). Traffic stays on loopback; every phase is time-bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import asyncpg  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402
from loadgen import Expected, calibrate, run_load, summary  # noqa: E402

from storage.migrate import upgrade_sync  # noqa: E402
from tests.fake_bot_api import DEFAULT_TOKEN, FakeBotAPI  # noqa: E402
from tests.support.botproc import BotProcess, terminate  # noqa: E402

RESULTS = ROOT / "benchmarks" / "RESULTS.md"
P99_RATIO_TARGET = 3.0  # p99 turn latency at most 3x the echo bot's
TURNS_TARGET = 300.0  # turns/s per worker, on PostgreSQL
PEAK_MB_TARGET = 200.0  # peak memory per worker
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# --- process and machine figures (Linux /proc; no extra dependency) -------------------------


def peak_mb(pid: int) -> float:
    """VmHWM: the process's peak resident memory so far."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def rss_mb(pid: int) -> float:
    """VmRSS: resident memory now."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine, all cores."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def machine_description() -> str:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} cores{f' ({model})' if model else ''}, {platform.system()}"


def git_revision() -> str:
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, check=True,
                             capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=ROOT, capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{rev}{' (with uncommitted changes)' if dirty.strip() else ''}"


# --- databases ------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def sqlite_database(directory: Path) -> AsyncIterator[str]:
    url = f"sqlite+aiosqlite:///{directory / 'load.sqlite3'}"
    await asyncio.to_thread(upgrade_sync, url)
    yield url


@contextlib.asynccontextmanager
async def postgres_database(admin_dsn: str) -> AsyncIterator[str]:
    name = f"frontdoor_load_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(admin_dsn, timeout=10)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        host_part = admin_dsn.split("://", 1)[1].rsplit("/", 1)[0]
        url = f"postgresql+asyncpg://{host_part}/{name}"
        try:
            await asyncio.to_thread(upgrade_sync, url)
            yield url
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


# --- one run --------------------------------------------------------------------------------


@dataclass
class Run:
    name: str
    users: int
    figures: dict[str, Any]
    peak_mb: float
    rss_mb: float
    bot_cpu_ms_per_turn: float
    harness_cpu_ms_per_turn: float
    machine_busy: float  # share of all cores busy during the load, 0..1
    errors: list[str] = field(default_factory=list)
    rss_by_round: list[float] = field(default_factory=list)  # MB after each round (--rounds)


def bot_env() -> dict[str, str]:
    """Settings the bot needs beyond the database and the fake's URL."""
    # Simulated users answer at machine speed: the per-conversation rate limit is scaled out
    # of their way (its check still runs on every message).
    # Encryption at rest needs a data key; a fresh one per run (the database is thrown away).
    return {"FRONTDOOR_RATE_LIMIT_FACTOR": "1000",
            "FRONTDOOR_DATA_KEYS": Fernet.generate_key().decode()}


class EchoProcess:
    """benchmarks/echo_bot.py polling the fake."""

    def __init__(self, api_url: str, log_path: Path) -> None:
        self.api_url = api_url
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "TELEGRAM_BOT_TOKEN": DEFAULT_TOKEN, "TELEGRAM_API_URL": self.api_url}
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen([sys.executable, str(ROOT / "benchmarks" / "echo_bot.py")],
                                         cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)

    async def stop(self) -> None:
        await terminate(self.proc)


async def measure(name: str, fake: FakeBotAPI, pid: int, args: argparse.Namespace,
                  expected: Expected | None, first_chat: int = 1_000) -> Run:
    cap = f", at most {args.turns} turns" if args.turns else ""
    print(f"  {name}: bot pid {pid}, {args.users} users x {args.journeys} journeys{cap}",
          flush=True)
    deadline = time.monotonic() + args.max_seconds
    cpu0, harness0, (busy0, total0) = cpu_seconds(pid), time.process_time(), machine_ticks()
    figures = await run_load(fake, users=args.users, journeys=args.journeys, turns=args.turns,
                             first_chat=first_chat, expected=expected, ramp=args.ramp,
                             patience=args.turn_timeout, deadline=deadline)
    cpu1, harness1, (busy1, total1) = cpu_seconds(pid), time.process_time(), machine_ticks()
    turns = max(figures.turns, 1)
    run = Run(name, args.users, summary(figures), peak_mb(pid), rss_mb(pid),
              (cpu1 - cpu0) * 1000 / turns, (harness1 - harness0) * 1000 / turns,
              (busy1 - busy0) / max(total1 - total0, 1), figures.errors)
    if time.monotonic() >= deadline:
        run.errors.append(f"stopped at the time limit ({args.max_seconds:g} s) after "
                          f"{figures.turns} turns")
    return run


async def run_echo(args: argparse.Namespace, work: Path) -> Run:
    async with FakeBotAPI() as fake:
        echo = EchoProcess(fake.base_url, work / "echo.log")
        echo.start()
        try:
            await polling_started(fake, echo.proc)
            await run_load(fake, users=5, journeys=1, turns=50, first_chat=1,  # warm-up
                           expected=None, ramp=0, patience=args.turn_timeout,
                           deadline=time.monotonic() + 60)
            assert echo.proc is not None
            return await measure("echo bot", fake, echo.proc.pid, args, None)
        finally:
            await echo.stop()


async def run_bot(name: str, url: str, args: argparse.Namespace, work: Path) -> Run:
    async with FakeBotAPI() as fake:
        bot = BotProcess(url, fake.base_url, work / f"{name}.log", **bot_env())
        await bot.start()
        try:
            await polling_started(fake, bot.proc)
            # Learning each journey's reply counts also warms the bot up (first-use imports).
            expected = await asyncio.wait_for(calibrate(fake, first_chat=1), 120)
            assert bot.proc is not None
            rss: list[float] = []
            for n in range(args.rounds):  # the same worker again and again, new chats each time
                run = await measure(name, fake, bot.proc.pid, args, expected,
                                    first_chat=1_000 + n * 1_000_000)
                rss.append(run.rss_mb)
                if run.errors:
                    break
            run.rss_by_round = rss
            return run
        except BaseException:
            print(f"  {name}: bot log tail:\n{bot.log()}", file=sys.stderr)
            raise
        finally:
            await bot.stop()


async def polling_started(fake: FakeBotAPI, proc: subprocess.Popen[bytes] | None) -> None:
    """The bot is ready when it long-polls; a bot that died is reported, not waited for."""
    deadline = time.monotonic() + 60
    while not any(r["method"] == "getUpdates" for r in fake.requests):
        if proc is None or proc.poll() is not None:
            raise RuntimeError("the bot exited before it started polling")
        if time.monotonic() > deadline:
            raise TimeoutError("the bot did not start polling within 60 s")
        await asyncio.sleep(0.1)


# --- report ---------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def ratio(value: float, base: float) -> float:
    return value / base if base else float("inf")


def table(echo: Run, runs: list[Run]) -> list[str]:
    head = (f"{'run':<10} {'users':>5} {'turns':>6} {'journeys':>8} {'turns/s':>8} "
            f"{'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'peak MB':>8} {'bot CPU':>8} "
            f"{'errors':>6}")
    lines = [head, "-" * len(head)]
    for run in [echo, *runs]:
        f = run.figures
        lines.append(
            f"{run.name:<10} {run.users:>5} {f['turns']:>6} {f['journeys']:>8} "
            f"{f['turns_per_s']:>8.1f} {f['p50_ms']:>8.1f} {f['p95_ms']:>8.1f} "
            f"{f['p99_ms']:>8.1f} {run.peak_mb:>8.1f} {run.bot_cpu_ms_per_turn:>6.2f}ms "
            f"{len(run.errors):>6}")
    lines.append("")
    every = [echo, *runs]
    lines.append("peak MB = the bot process's VmHWM; bot CPU = its CPU time per turn.")
    lines.append("resident at the end: " + ", ".join(f"{r.name} {r.rss_mb:.0f} MB" for r in every))
    for run in runs:
        if len(run.rss_by_round) > 1:
            lines.append(f"{run.name}: {len(run.rss_by_round)} rounds in one worker (figures "
                         "above: the last round; peak: all of them), resident after each: "
                         + ", ".join(f"{mb:.1f}" for mb in run.rss_by_round) + " MB")
    lines.append("machine busy during the load (all cores, other work included): "
                 + ", ".join(f"{r.name} {r.machine_busy:.0%}" for r in every))
    lines.append("harness CPU per turn (fake Bot API + users): "
                 + ", ".join(f"{r.name} {r.harness_cpu_ms_per_turn:.2f} ms" for r in every))
    lines.append("")
    head = (f"{'ratio to echo':<14} {'turns/s':>8} {'p50':>7} {'p95':>7} {'p99':>7} "
            f"{'peak MB':>8} {'bot CPU':>8}")
    lines += [head, "-" * len(head)]
    e = echo.figures
    for run in runs:
        f = run.figures
        lines.append(
            f"{run.name:<14} {ratio(f['turns_per_s'], e['turns_per_s']):>7.2f}x "
            f"{ratio(f['p50_ms'], e['p50_ms']):>6.2f}x {ratio(f['p95_ms'], e['p95_ms']):>6.2f}x "
            f"{ratio(f['p99_ms'], e['p99_ms']):>6.2f}x {ratio(run.peak_mb, echo.peak_mb):>7.2f}x "
            f"{ratio(run.bot_cpu_ms_per_turn, echo.bot_cpu_ms_per_turn):>7.2f}x")
    return lines


def targets(echo: Run, runs: list[Run]) -> tuple[list[str], bool]:
    lines, ok_all = ["targets (per worker = one bot process):"], True
    for run in runs:
        p99 = ratio(run.figures["p99_ms"], echo.figures["p99_ms"])
        checks = [
            (f"p99 <= {P99_RATIO_TARGET:g}x echo bot", f"{p99:.2f}x", p99 <= P99_RATIO_TARGET),
            (f"peak memory <= {PEAK_MB_TARGET:g} MB", f"{run.peak_mb:.0f} MB",
             run.peak_mb <= PEAK_MB_TARGET),
            ("no errors (every reply arrived, none extra)", f"{len(run.errors)} errors",
             not run.errors),
        ]
        if run.name == "postgres":
            tps = run.figures["turns_per_s"]
            checks.insert(1, (f">= {TURNS_TARGET:g} turns/s on PostgreSQL", f"{tps:.0f}/s",
                              tps >= TURNS_TARGET))
        for label, value, ok in checks:
            ok_all &= ok
            lines.append(f"  {run.name:<9} {label:<46} {value:>12}  {verdict(ok)}")
    return lines, ok_all


def write_results(path: Path, args: argparse.Namespace, body: list[str], ok: bool) -> None:
    notes = ""
    if path.exists():
        old = path.read_text(encoding="utf-8")
        if "\n## Notes" in old:
            notes = old[old.index("\n## Notes") + 1:]
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = [
        "# Load benchmark results",
        "",
        "Generated by `python benchmarks/load_bench.py` (`make bench`); the section \"Notes\" "
        "is kept between runs.",
        "",
        f"- date: {now}",
        f"- machine: {machine_description()}; the fake Bot API and the simulated users run in "
        "the harness process, the bot in its own, PostgreSQL in its own, all on these cores",
        f"- git revision: {git_revision()}",
        f"- command: `python benchmarks/load_bench.py --users {args.users} --journeys "
        f"{args.journeys}{f' --turns {args.turns}' if args.turns else ''}"
        f"{f' --rounds {args.rounds}' if args.rounds > 1 else ''} "
        f"--backend {args.backend}`",
        f"- overall: {'all targets met' if ok else 'some targets missed'}",
        "",
        "```",
        *body,
        "```",
        "",
        "Latency is measured per turn from the moment the update is available in the fake Bot "
        "API to the moment the fake receives the first sendMessage for that chat. Users are "
        "closed loop: each sends its next message after the whole reply burst for the previous "
        "one. Journeys rotate 3 parents' self-referrals : 1 with a danger disclosure (the red "
        "path) : 1 young person; every journey is a new chat. Figures on a small shared "
        "machine are noisy: compare ratios to the echo bot from the same run rather than "
        "absolute numbers between runs.",
        "",
    ]
    path.write_text("\n".join(text) + ("\n" + notes if notes else ""), encoding="utf-8")


# --- main -----------------------------------------------------------------------------------


async def main_async(args: argparse.Namespace) -> int:
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    with tempfile.TemporaryDirectory(prefix="frontdoor-load-") as tmp:
        work = Path(tmp)
        print(f"echo bot baseline ({args.users} users)", flush=True)
        echo = await run_echo(args, work)
        runs = []
        for backend in backends:
            print(f"front door on {backend}", flush=True)
            database = (sqlite_database(work) if backend == "sqlite"
                        else postgres_database(args.admin_dsn))
            async with database as url:
                runs.append(await run_bot(backend, url, args, work))
    body = table(echo, runs)
    checks, ok = targets(echo, runs)
    body += ["", *checks]
    for run in [echo, *runs]:
        for error in run.errors[:5]:
            body.append(f"  {run.name} error: {error}")
    print()
    print("\n".join(body))
    if not args.no_results:
        write_results(args.results, args, body, ok)
        print(f"\nwritten to {args.results}")
    if any(run.errors for run in [echo, *runs]):
        return 1  # lost or extra replies, or the time limit: the figures are not to be trusted
    return 0 if ok or not args.check else 1


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200, help="concurrent users (default 200)")
    parser.add_argument("--journeys", type=int, default=1,
                        help="journeys each user plays, each in a new chat (default 1)")
    parser.add_argument("--turns", type=int, default=0,
                        help="stop after this many turns (default 0: every journey to the end)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="load rounds against the same bot process, to see its memory over "
                        "a long run (default 1)")
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--admin-dsn", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="PostgreSQL server for the throwaway database")
    parser.add_argument("--ramp", type=float, default=2.0,
                        help="seconds over which users start (default 2)")
    parser.add_argument("--turn-timeout", type=float, default=60.0,
                        help="a turn without its replies after this long is an error")
    parser.add_argument("--max-seconds", type=float, default=300.0,
                        help="time limit for each run's load phase (default 300)")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--no-results", action="store_true", help="do not write RESULTS.md")
    parser.add_argument("--check", action="store_true",
                        help="exit 1 when a target is missed (errors always exit 1)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    host = args.admin_dsn.split("@")[-1].split("/")[0].rsplit(":", 1)[0]
    if args.backend != "sqlite" and host not in ("127.0.0.1", "localhost", "[::1]"):
        sys.exit(f"--admin-dsn must be on loopback (got {host})")
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
