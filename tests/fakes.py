"""Test doubles for the storage port."""

from __future__ import annotations

import asyncio

from kv.adapters.memory import InMemoryStore
from kv.domain import Change, Entry, StorageUnavailable


class FakeDurableStore:
    """A Store whose commits stay pending until the test calls `sync()` (or `fail()`).

    Lets tests see what a durable store's callers see while a sync is under way.
    """

    def __init__(self, start_revision: int = 0) -> None:
        self._committed = InMemoryStore()
        self._start_revision = start_revision
        self.pending: list[tuple[Change, asyncio.Future[None]]] = []
        self.has_pending = asyncio.Event()
        self.broken = False
        self.closed = False

    async def open(self) -> int:
        return self._start_revision

    async def close(self) -> None:
        self.closed = True

    async def get(self, key: str) -> Entry | None:
        return await self._committed.get(key)

    def commit(self, change: Change) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.broken:
            future.set_exception(StorageUnavailable("store is broken"))
        else:
            self.pending.append((change, future))
            self.has_pending.set()
        return future

    async def check(self) -> None:
        if self.broken:
            raise StorageUnavailable("store is broken")

    def sync(self) -> None:
        """Make every pending change durable, in order."""
        for change, future in self.pending:
            self._committed.commit(change)
            future.set_result(None)
        self.pending.clear()
        self.has_pending.clear()

    def fail(self) -> None:
        """Fail every pending change and every later one (fail-stop)."""
        self.broken = True
        for _, future in self.pending:
            future.set_exception(StorageUnavailable("sync failed"))
        self.pending.clear()
