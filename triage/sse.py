"""Server-sent events: live updates on every open console.

Consoles get signals only (a red contact's reference, urgency, locality and language, or
"the queue changed"); the page then fetches what it shows through the normal, audited routes.
A slow or dead browser never blocks the others: its queue is bounded and drops extras.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from aiohttp import web

from flows.events import CONTACT_CHANGED, CONTACT_RED, EventBus
from profiles import Profile

HEARTBEAT_SECONDS = 15.0
MAX_PENDING = 100
RED_SWEPT = "triage.red_swept"  # a red contact found by the alert sweeper, not by the engine
QUEUE_CHANGED = "triage.queue_changed"


class SseHub:
    """Fans events out to connected consoles."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self._clients: set[asyncio.Queue[str | None]] = set()

    @property
    def clients(self) -> int:
        return len(self._clients)

    def publish(self, event: str, data: dict[str, Any]) -> None:
        message = f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
        for queue in list(self._clients):
            if queue.qsize() < MAX_PENDING:
                queue.put_nowait(message)

    def attach(self, bus: EventBus) -> None:
        bus.subscribe(CONTACT_RED, self._on_red)
        bus.subscribe(RED_SWEPT, self._on_red)
        bus.subscribe(CONTACT_CHANGED, self._on_changed)
        bus.subscribe(QUEUE_CHANGED, self._on_changed)

    async def _on_red(self, event: dict[str, Any]) -> None:
        locality = self.profile.locality(str(event.get("locality") or ""))
        self.publish(
            "red",
            {
                "reference": str(event.get("reference", "")),
                "urgency": str(event.get("urgency", "")),
                "locality": locality.name if locality else "not known yet",
                "language": str(event.get("language") or ""),
            },
        )
        self.publish("queue", {})

    async def _on_changed(self, _event: dict[str, Any]) -> None:
        self.publish("queue", {})

    async def close(self) -> None:
        for queue in list(self._clients):
            queue.put_nowait(None)

    async def stream(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-store",
                "X-Accel-Buffering": "no",
            }
        )
        await response.prepare(request)
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._clients.add(queue)
        try:
            await response.write(b"retry: 3000\n: connected\n\n")
            while True:
                try:
                    message = await asyncio.wait_for(queue.get(), HEARTBEAT_SECONDS)
                except TimeoutError:
                    message = ": ping\n\n"
                if message is None:
                    break
                await response.write(message.encode("utf-8"))
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self._clients.discard(queue)
        with contextlib.suppress(ConnectionResetError, RuntimeError):
            await response.write_eof()
        return response
