"""Group commit: small writes from many tasks share one transaction.

While one transaction is in flight, further writes gather and go together in the next. When
the service is quiet each write still goes at once, alone (no timer, no added latency); under
load a round trip and a commit are shared by everyone who arrived meanwhile. A caller returns
only once its write is committed, so it can rely on it as if it had written alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import Database

T = TypeVar("T")


class GroupCommit(Generic[T]):
    def __init__(
        self, db: Database, write: Callable[[AsyncSession, list[T]], Awaitable[None]]
    ) -> None:
        self.db = db
        self.write = write
        self._pending: list[tuple[T, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def submit(self, value: T) -> None:
        """Returns when `value` is committed; raises what the shared transaction raised."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._pending.append((value, done))
        if self._writer is None or self._writer.done():
            self._writer = loop.create_task(self._drain())
        await done

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                async with self.db.transaction() as session:
                    await self.write(session, [value for value, _ in batch])
            except Exception as exc:
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
            else:
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)
