"""Small in-memory limits: a token bucket per connection and a failure counter per address.

They protect the engine and the resume codes from floods and guessing; they are per
process and forgetful on purpose (no personal data kept, nothing to purge).
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable


class TokenBucket:
    """`burst` messages at once, refilled at `rate` per second."""

    def __init__(
        self, burst: float = 5, rate: float = 5.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.burst = burst
        self.rate = rate
        self.clock = clock
        self.tokens = burst
        self.at = clock()

    def take(self) -> bool:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class FailureLimiter:
    """At most `limit` failures per key within `window` seconds; bounded memory."""

    def __init__(
        self,
        limit: int = 10,
        window: float = 900.0,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self.clock = clock
        self._seen: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, key: str) -> deque[float]:
        times = self._seen.get(key, deque())
        cutoff = self.clock() - self.window
        while times and times[0] < cutoff:
            times.popleft()
        return times

    def blocked(self, key: str) -> bool:
        return len(self._recent(key)) >= self.limit

    def failed(self, key: str) -> None:
        times = self._recent(key)
        times.append(self.clock())
        self._seen[key] = times
        self._seen.move_to_end(key)
        while len(self._seen) > self.max_keys:
            self._seen.popitem(last=False)
