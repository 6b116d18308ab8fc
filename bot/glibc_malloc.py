"""Cap glibc's malloc arenas for a long-running worker.

glibc gives every thread that allocates its own arena (up to eight per core) and never hands
their free space to another thread. The worker is one event loop plus a few helper threads
(lingua's and asyncio's), so extra arenas only hold fragments: capping them at two took about
4 MB off a worker under load (benchmarks/RESULTS.md). Must run before those threads start. An
operator's own MALLOC_ARENA_MAX wins; on a C library without mallopt (musl, macOS) nothing
changes.
"""

from __future__ import annotations

import ctypes
import os

M_ARENA_MAX = -8  # glibc's malloc.h
ARENAS = 2


def cap(arenas: int = ARENAS) -> bool:
    """True when the cap was set here."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_ARENA_MAX, arenas))
