"""Run-time properties: thread safety, speed, start-up and memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nlu

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = [
    ("my dad is hitting my mum right now", None), ("he never hits them", None),
    ("mój syn nie chce chodzić do szkoły", "pl"), ("ابني لا يتنفس", "ar"),
    ("mera shohar mujhe marta hai", "ur"), ("hello", None),
    ("என் கணவர் என்னை அடிக்கிறார்", "ta"), ("years ago he hit me, he's in prison now", None),
]


def test_thread_safe() -> None:
    expected = [nlu.analyse(t, h) for t, h in SAMPLES]
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(5):
            got = list(pool.map(lambda th: nlu.analyse(*th), SAMPLES))
            assert got == expected


def test_load_from_many_threads_at_once() -> None:
    analyser = nlu.Analyser()
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda _: analyser.load(), range(4)))
    assert analyser.analyse("my baby isn't breathing").risk == "immediate"


def test_fast_enough() -> None:
    """p99 target is 2 ms on an idle machine (benchmarks/nlu_bench.py); shared CI runners
    are noisier, so this guards against order-of-magnitude regressions only."""
    texts = []
    for path in sorted((ROOT / "nlu" / "data" / "eval").glob("*.jsonl")):
        texts += [json.loads(line)["text"] for line in path.read_text("utf-8").splitlines()]
    timings = []
    for text in texts:
        start = time.perf_counter()
        nlu.analyse(text)
        timings.append(time.perf_counter() - start)
    timings.sort()
    assert timings[len(timings) // 2] < 0.005
    assert timings[int(len(timings) * 0.99)] < 0.02


def test_start_up_and_memory_in_a_fresh_process() -> None:
    # VmHWM (peak RSS of this program), not ru_maxrss: Linux carries ru_maxrss over from
    # the parent (pytest) across fork and exec.
    code = (
        "import time; t = time.perf_counter(); import nlu; nlu.load(); "
        "s = time.perf_counter() - t; "
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]; "
        "print(s, hwm)")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = [sys.executable, "-c", code]
    subprocess.run(run, env=env, check=True, capture_output=True, timeout=300)  # warm caches
    out = subprocess.run(run, env=env, check=True, capture_output=True, text=True, timeout=300)
    seconds, peak_kb = out.stdout.split()
    assert float(seconds) < 3.0  # 1 s target on an idle machine; CI headroom
    assert int(peak_kb) / 1024 < 150
