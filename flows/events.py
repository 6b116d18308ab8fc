"""In-process signals between the engine, channel senders and the console.

Kept tiny on purpose: a signal only says "look at the database"; the database is the truth,
so a missed signal costs latency (the next sweep finds the work), never data.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

Listener = Callable[[dict[str, Any]], Awaitable[None]]


class EventBus:
    """Topic -> async listeners; emit() never raises into the caller."""

    def __init__(self) -> None:
        self._listeners: dict[str, list[Listener]] = defaultdict(list)
        self._tasks: set[asyncio.Task[None]] = set()

    def subscribe(self, topic: str, listener: Listener) -> None:
        self._listeners[topic].append(listener)

    def unsubscribe(self, topic: str, listener: Listener) -> None:
        if listener in self._listeners.get(topic, []):
            self._listeners[topic].remove(listener)

    def emit(self, topic: str, event: dict[str, Any]) -> None:
        for listener in list(self._listeners.get(topic, [])):
            task = asyncio.get_running_loop().create_task(_safe(listener, event))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)


async def _safe(listener: Listener, event: dict[str, Any]) -> None:
    try:
        await listener(event)
    except Exception:  # a broken listener must not break the turn that emitted
        import logging

        logging.getLogger("frontdoor.events").exception("event listener failed")


# Topics
OUTBOX = "outbox"  # {"channel": str}
CONTACT_RED = "contact.red"  # {"contact_id": int, "reference": str, "urgency": str, ...}
CONTACT_CHANGED = "contact.changed"  # {"contact_id": int}
INBOX = "inbox"  # {"channel": str, "chat": str}
UNAVAILABLE = "unavailable"  # {"channel", "chat", "reply": Reply}: say so without the database
