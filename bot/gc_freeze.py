"""Keep the start-up heap out of the garbage collector's full passes.

A worker starts with several hundred thousand objects that live as long as it does (the NLU
models, aiogram's types, the catalogs, SQLAlchemy's mappers and compiled statements). Every
full collection walked all of them: under load about twenty passes of some 70 ms each, a
tenth of the bot's CPU (benchmarks/RESULTS.md). Once start-up is over they are moved to the
permanent generation (`gc.freeze`), which collections skip. One that does become garbage
later is still freed when nothing refers to it; only a reference cycle among them would stay.
"""

from __future__ import annotations

import gc


def freeze() -> int:
    """Collect what start-up left behind, then freeze the rest. Returns how many objects are
    frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
