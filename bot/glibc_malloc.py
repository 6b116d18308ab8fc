"""glibc's malloc, tuned for a long-running worker.

Arenas: glibc gives every thread that allocates its own arena (up to eight per core) and never
hands their free space to another thread. The worker is one event loop plus a few helper
threads (lingua's and asyncio's), so extra arenas only hold fragments: capping them at two took
about 4 MB off a worker under load. Must run before those threads start. An operator's own
MALLOC_ARENA_MAX wins.

Trimming: under load the heap's live data stays flat (about 59 MB) while the free space
stranded between live blocks grows (7 MB after start-up, 29 MB after 55,000 turns), and glibc
returns only the free space at the heap's top on its own. `malloc_trim(0)` hands every free
page back, so the worker's memory follows what it uses (benchmarks/RESULTS.md).

On a C library without these calls (musl, macOS) nothing changes.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
from typing import Any

M_ARENA_MAX = -8  # glibc's malloc.h
ARENAS = 2
TRIM_EVERY = 30.0  # seconds; a trim of a 90 MB heap takes about a millisecond


def _libc(name: str, *argtypes: Any) -> Any:
    """The C library's function `name` taking `argtypes` and returning an int; None when
    there is none."""
    try:
        function = getattr(ctypes.CDLL(None), name)
    except (OSError, AttributeError):
        return None
    function.argtypes = argtypes
    function.restype = ctypes.c_int
    return function


def cap_arenas(arenas: int = ARENAS) -> bool:
    """True when the cap was set here."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    mallopt = _libc("mallopt", ctypes.c_int, ctypes.c_int)
    return mallopt is not None and bool(mallopt(M_ARENA_MAX, arenas))


def trim() -> bool:
    """Return the heap's free pages to the system. True when some were."""
    malloc_trim = _libc("malloc_trim", ctypes.c_size_t)
    return malloc_trim is not None and bool(malloc_trim(0))


async def trim_every(seconds: float = TRIM_EVERY) -> None:
    """`trim()` now and then, for as long as the worker runs."""
    while True:
        await asyncio.sleep(seconds)
        trim()
