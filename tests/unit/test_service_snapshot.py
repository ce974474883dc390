"""KeyValueService.snapshot: counted first, read in pages, ttl counted from when it was taken."""

from __future__ import annotations

import pytest

from kv.adapters.memory import InMemoryStore
from kv.adapters.snapshot_view import LocalSnapshot
from kv.domain import KeyValueService, StorageUnavailable
from tests.fakes import FakeClock, FakeDurableStore


async def test_pages_hold_every_entry_and_ttl_is_counted_from_the_snapshot() -> None:
    clock = FakeClock()
    service = KeyValueService(InMemoryStore(clock=clock), clock=clock)
    await service.start()
    for n in range(25):
        await service.put(f"k{n:02}", n)
    await service.put("t", "x", ttl=100)
    async with await service.snapshot() as snapshot:
        await clock.advance(30)
        assert snapshot.entries == 26
        pages = [page async for page in snapshot.pages(limit=10)]
        assert [len(page) for page in pages] == [10, 10, 6]
        entries = [entry for page in pages for entry in page]
        assert [e.key for e in entries] == [*(f"k{n:02}" for n in range(25)), "t"]
        assert snapshot.ttl_left(entries[-1]) == 100
        assert snapshot.ttl_left(entries[0]) is None
        assert service.ttl_left(entries[-1]) == 70


class CountFails(InMemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.snapshots: list[LocalSnapshot] = []

    async def snapshot(self) -> LocalSnapshot:
        snapshot = await super().snapshot()
        self.snapshots.append(snapshot)

        async def failing() -> int:
            raise StorageUnavailable("lost while counting")

        snapshot.count = failing  # type: ignore[method-assign]
        return snapshot


async def test_a_snapshot_that_cannot_be_counted_is_closed() -> None:
    store = CountFails()
    service = KeyValueService(store)
    with pytest.raises(StorageUnavailable):
        await service.snapshot()
    with pytest.raises(StorageUnavailable, match="closed"):
        await store.snapshots[0].page(None, 1)


async def test_a_store_without_snapshots_is_unavailable() -> None:
    with pytest.raises(StorageUnavailable, match="takes no snapshots"):
        await KeyValueService(FakeDurableStore()).snapshot()
