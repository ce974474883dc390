"""Test doubles for the storage port."""

from __future__ import annotations

import asyncio

from kv.adapters.memory import InMemoryStore
from kv.adapters.snapshot_view import LocalSnapshot
from kv.domain import Entry, Listing, Outcome, SingleWrites, StorageUnavailable, Transaction


class FakeDurableStore(SingleWrites):
    """A Store whose transactions stay pending until the test calls `sync()` (or `fail()`).

    Lets tests see what a durable store's callers see while a sync is under
    way. Pending transactions are decided and applied in arrival order at
    `sync` (by an InMemoryStore, the reference), and answered then.
    """

    def __init__(self) -> None:
        self._committed = InMemoryStore()
        self.pending: list[tuple[Transaction, asyncio.Future[Outcome]]] = []
        self.has_pending = asyncio.Event()
        self.broken = False
        self.closed = False

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        self.closed = True

    async def get(self, key: str) -> Entry | None:
        return await self._committed.get(key)

    async def list(
        self, prefix: str, *, after: str | None, limit: int, keys_only: bool = False
    ) -> Listing:
        return await self._committed.list(prefix, after=after, limit=limit, keys_only=keys_only)

    async def transact(self, txn: Transaction) -> Outcome:
        if self.broken:
            raise StorageUnavailable("store is broken")
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self.pending.append((txn, future))
        self.has_pending.set()
        return await asyncio.shield(future)

    async def check(self) -> None:
        if self.broken:
            raise StorageUnavailable("store is broken")

    def sync(self) -> None:
        """Carry out every pending transaction, in order, and answer each."""
        for txn, future in self.pending:
            try:
                future.set_result(self._committed.apply(txn))
            except Exception as exc:  # a domain error is the write's answer
                future.set_exception(exc)
        self.pending.clear()
        self.has_pending.clear()

    def fail(self) -> None:
        """Fail every pending write and every later one (fail-stop); nothing is applied."""
        self.broken = True
        for _, future in self.pending:
            future.set_exception(StorageUnavailable("sync failed"))
        self.pending.clear()


class FakeClock:
    """A clock that stands still until the test moves it: expiry tested without sleeping."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    async def advance(self, seconds: float) -> None:
        """Move the clock forward (async, as a real clock's stand-in must wait)."""
        self.now += seconds


class PagesFail(InMemoryStore):
    """A store whose snapshots count, then fail to read their entries (storage lost midway)."""

    async def snapshot(self) -> LocalSnapshot:
        snapshot = await super().snapshot()

        async def failing(after: str | None, limit: int) -> Listing:
            raise StorageUnavailable("storage lost")

        await snapshot.count()
        snapshot.page = failing  # type: ignore[method-assign]
        return snapshot
