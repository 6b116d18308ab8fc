"""Run-time properties: thread safety, loading once from many threads, and memory."""

from __future__ import annotations

import os
import subprocess
import sys
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


def test_memory_in_a_fresh_process() -> None:
    # Load time and analyse() latency are measured by benchmarks/nlu_bench.py, not asserted
    # here: timings on a shared runner only made this suite flaky.
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
    _seconds, peak_kb = out.stdout.split()
    assert int(peak_kb) / 1024 < 150
