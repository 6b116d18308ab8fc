"""NLU benchmark: model load time, analyse() latency p50/p99 over the shipped evaluation
messages, and memory (RSS growth and Python heap peak). Run: ``python benchmarks/nlu_bench.py``.

Load is measured in this fresh process (nothing imported before), as at start-up; the first
run on a machine also fills the regex cache (see nlu/recache.py), so it reports "cold" then
runs a second process for the "warm" figure. The Python heap peak comes from a separate
process under tracemalloc, which would otherwise slow the load it measures.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def rss_mb() -> float:
    """Current resident set size (Linux /proc), else the peak from getrusage."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def vm_hwm_mb() -> float:
    """Peak RSS of this program (VmHWM); ru_maxrss would include the parent's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_only() -> float:
    t0 = time.perf_counter()
    import nlu

    nlu.load()
    return time.perf_counter() - t0


def child(flag: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, __file__, flag], capture_output=True, text=True,
                         env=env, check=True, timeout=300)
    return out.stdout.strip()


def main() -> int:
    if sys.argv[1:] == ["--load"]:
        print(f"{load_only():.4f}")
        return 0
    if sys.argv[1:] == ["--heap"]:
        tracemalloc.start()
        load_only()
        print(f"{tracemalloc.get_traced_memory()[1]}")
        return 0
    rss0 = rss_mb()
    load_s = load_only()
    import nlu

    rss1 = rss_mb()
    texts: list[tuple[str, str | None]] = []
    for path in sorted((ROOT / "nlu" / "data" / "eval").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                rec = json.loads(line)
                texts.append((rec["text"], rec.get("lang")))
    for text, lang in texts[:50]:  # warm caches once, as a running service would be
        nlu.analyse(text, lang)
    timings = []
    for _ in range(5):
        for text, lang in texts:
            t = time.perf_counter()
            nlu.analyse(text, lang)
            timings.append((time.perf_counter() - t) * 1000)
    timings.sort()
    p50 = statistics.median(timings)
    p99 = timings[int(len(timings) * 0.99) - 1]
    rss2 = rss_mb()
    peak = vm_hwm_mb()
    warm = float(child("--load"))
    heap = int(child("--heap"))
    print(f"messages            {len(texts)} x 5 runs")
    print(f"load, this process  {load_s * 1000:8.1f} ms  (import + nlu.load())")
    print(f"load, fresh process {warm * 1000:8.1f} ms  (regex cache warm)")
    print(f"analyse p50         {p50:8.3f} ms")
    print(f"analyse p99         {p99:8.3f} ms")
    print(f"analyse max         {timings[-1]:8.3f} ms")
    print(f"RSS before import   {rss0:8.1f} MB")
    print(f"RSS after load      {rss1:8.1f} MB  (+{rss1 - rss0:.1f} MB)")
    print(f"RSS after analyses  {rss2:8.1f} MB  (+{rss2 - rss0:.1f} MB)")
    print(f"peak RSS (process)  {peak:8.1f} MB")
    print(f"Python heap peak    {heap / 1024 / 1024:8.1f} MB during load (tracemalloc)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
