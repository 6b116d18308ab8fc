"""Cost of encryption at rest per turn: a whole self-referral on SQLite, with the real data
keys and with a pass-through keyring, and the cost of one value of a typical size.

    .venv/bin/python benchmarks/crypto_bench.py [--runs 5]

Uses throwaway SQLite files in a temporary folder; talks to nothing else.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from storage.crypto import Keyring, generate_key, parse_keys
from storage.db import Database
from storage.migrate import upgrade
from tests.support.chat import PARENT_JOURNEY, Chat, play


class PassThrough(Keyring):
    """Stores the value as it is: the same code path, without the cryptography."""

    def encrypt(self, data: bytes) -> str:
        return data.decode("utf-8")

    def decrypt(self, token: str) -> bytes:
        return token.encode("utf-8")


class Timed(Keyring):
    """The real keys, counting calls and the time spent inside the cryptography."""

    calls = 0
    seconds = 0.0

    def encrypt(self, data: bytes) -> str:
        started = time.perf_counter()
        try:
            return super().encrypt(data)
        finally:
            self.calls += 1
            self.seconds += time.perf_counter() - started

    def decrypt(self, token: str) -> bytes:
        started = time.perf_counter()
        try:
            return super().decrypt(token)
        finally:
            self.calls += 1
            self.seconds += time.perf_counter() - started


async def journey_seconds(folder: Path, keyring: Keyring, run: int) -> float:
    url = f"sqlite+aiosqlite:///{folder / f'bench-{run}.sqlite3'}"
    await upgrade(url)
    db = Database(url, keyring=keyring)
    try:
        chat = Chat(db, chat=f"bench{run}")
        started = time.perf_counter()
        await play(chat, PARENT_JOURNEY)
        await chat.click("submit")
        return time.perf_counter() - started
    finally:
        await db.dispose()


async def main(runs: int) -> None:
    keys = parse_keys(generate_key(), "bench")
    turns = len(PARENT_JOURNEY) + 1
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        await journey_seconds(folder, Keyring(keys, "bench"), -1)  # warm up: model, imports
        timings: dict[str, list[float]] = {"encrypted": [], "plain": []}
        timed = Timed(keys, "bench")
        for run in range(runs):
            order: list[tuple[str, Keyring]] = [
                ("encrypted", timed),
                ("plain", PassThrough(keys, "bench")),
            ]
            for i, (name, keyring) in enumerate(order[:: -1 if run % 2 else 1]):
                seconds = await journey_seconds(folder, keyring, 2 * run + i)
                timings[name].append(seconds / turns * 1000)
    enc, pla = (statistics.median(timings[n]) for n in ("encrypted", "plain"))
    print(
        f"whole turn (median of {runs} journeys of {turns} turns, SQLite): "
        f"encrypted {enc:.2f} ms, pass-through {pla:.2f} ms"
    )
    print(
        f"inside the cryptography: {timed.calls / runs / turns:.1f} values and "
        f"{timed.seconds / runs / turns * 1000:.3f} ms per turn"
    )

    state = json.dumps({"answers": {f"q{i}": "an answer of some length " * 3 for i in range(40)}})
    data = state.encode()
    keyring, n = Keyring(keys, "bench"), 2000
    started = time.perf_counter()
    for _ in range(n):
        keyring.decrypt(keyring.encrypt(data))
    each = (time.perf_counter() - started) / n * 1e6
    print(f"one {len(data)}-byte value encrypted and decrypted: {each:.1f} µs")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    asyncio.run(main(parser.parse_args().runs))
