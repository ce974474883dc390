"""The local stores' in-memory indexes: key order, expiry order and the sweeper's rounds."""

from __future__ import annotations

import asyncio

from kv.adapters.keydir import EXPIRE_BATCH, ExpiryIndex, KeyDirectory
from kv.adapters.memory import InMemoryStore
from kv.domain import Entry, Write
from tests.fakes import FakeClock


def test_a_page_starts_at_the_prefix_when_after_sorts_before_it() -> None:
    directory = KeyDirectory({k: Entry(k, 1, 1) for k in ["a", "b1", "b2", "c"]})
    entries, more = directory.page("b", "a", 10, 0.0, keys_only=False)
    assert [e.key for e in entries] == ["b1", "b2"]
    assert not more


def test_a_page_skips_expired_entries_and_counts_only_live_ones() -> None:
    directory = KeyDirectory(
        {
            "k1": Entry("k1", 1, 1, expires_at=5.0),
            "k2": Entry("k2", 1, 2),
            "k3": Entry("k3", 1, 3, expires_at=50.0),
            "k4": Entry("k4", 1, 4),
        }
    )
    entries, more = directory.page("k", None, 2, 10.0, keys_only=True)
    assert [(e.key, e.value) for e in entries] == [("k2", None), ("k3", None)]
    assert more
    entries, more = directory.page("k", "k3", 2, 60.0, keys_only=False)
    assert [e.key for e in entries] == ["k4"]
    assert not more


def test_the_expiry_index_gives_due_keys_soonest_first_and_at_most_the_limit() -> None:
    index = ExpiryIndex([Entry("late", 1, 1, 30.0), Entry("never", 1, 2)])
    index.move("soon", None, 10.0)
    index.move("sooner", None, 5.0)
    index.move("late", 30.0, 20.0)
    assert index.next_due() == 5.0
    assert index.due(25.0, 10) == [(5.0, "sooner"), (10.0, "soon"), (20.0, "late")]
    assert index.due(25.0, 2) == [(5.0, "sooner"), (10.0, "soon")]
    index.move("sooner", 5.0, None)
    assert index.due(7.0, 10) == []
    assert len(index) == 2


async def test_the_sweeper_removes_many_due_entries_in_bounded_rounds() -> None:
    clock = FakeClock()
    store = InMemoryStore(clock=clock, sweep_interval=0.01)
    count = 2 * EXPIRE_BATCH + 10
    for number in range(count):
        await store.write(Write.put(f"k{number}", 1, b"1", ttl=1))
    await clock.advance(2)
    for _ in range(2000):
        if store.revision == 2 * count:
            break
        await asyncio.sleep(0.01)
    assert store.revision == 2 * count  # each removal at a revision of its own
    assert (await store.list("", after=None, limit=10)).entries == ()
    await store.close()
