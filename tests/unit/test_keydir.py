"""The local stores' in-memory indexes: key order, expiry order and the sweeper's rounds."""

from __future__ import annotations

import asyncio
import gc
import tracemalloc

import pytest

from kv.adapters.history import HistoryLimits
from kv.adapters.keydir import EXPIRE_BATCH, RECENT_ENTRIES, ExpiryIndex, KeyDirectory
from kv.adapters.memory import InMemoryStore
from kv.adapters.packed import pack, unpack
from kv.adapters.snapshot_view import KeyDirectoryView
from kv.domain import Entry, JsonValue, Write
from kv.domain.model import encode_value
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


@pytest.mark.parametrize(
    "value",
    ["", "plain", "grüße ✓ 🙂", "\x00nul", "\ud800 lone surrogate", 0, 1.5, True, None, [1, "a"]],
)
@pytest.mark.parametrize("expires_at", [None, 12.5])
def test_an_entry_comes_back_from_the_directory_as_it_went_in(
    value: JsonValue, expires_at: float | None
) -> None:
    entry = Entry("k", value, 2**40 + 7, expires_at)
    packed = pack(entry)
    assert unpack("k", packed) == entry
    # The common entry (a string that never expires) is one bytes object, nothing else.
    assert (type(packed) is bytes) == (type(value) is str and expires_at is None)
    directory = KeyDirectory()
    directory.set(entry)
    assert directory.raw("k") == entry


def test_reads_see_every_write_and_removal_of_keys_read_lately_and_of_others() -> None:
    keys = [f"k{n}" for n in range(RECENT_ENTRIES + 100)]  # more than are kept as built
    directory = KeyDirectory({key: Entry(key, "v0", 1) for key in keys})
    for round_ in range(1, 4):
        for key in keys:
            assert directory.raw(key) == Entry(key, f"v{round_ - 1}", round_)
        for key in keys:
            directory.set(Entry(key, f"v{round_}", round_ + 1))
            assert directory.recent(key) in (None, Entry(key, f"v{round_}", round_ + 1))
    for key in keys[::2]:
        directory.remove(key)
    for number, key in enumerate(keys):
        removed = number % 2 == 0
        assert directory.recent(key) in (None, Entry(key, "v3", 4))
        assert directory.raw(key) == (None if removed else Entry(key, "v3", 4))
        assert directory.recent(key) == (None if removed else Entry(key, "v3", 4))
    directory.set(Entry(keys[0], [1], 9, expires_at=5.0))
    assert directory.raw(keys[0]) == Entry(keys[0], [1], 9, expires_at=5.0)


def read_view(view: KeyDirectoryView, now: float = 0.0) -> list[Entry]:
    entries: list[Entry] = []
    after, more = None, True
    while more:
        page, more = view.page(after, 700, now)
        entries += page
        after = page[-1].key if page else after
    return entries


def test_a_view_of_thousands_of_keys_reads_as_opened_while_every_key_changes() -> None:
    directory = KeyDirectory({f"k{n:05}": Entry(f"k{n:05}", f"v{n}", n + 1) for n in range(5000)})
    before = read_view(directory.view())
    view = directory.view()
    for n in range(5000):  # chunks split (new keys between) and merge (keys removed)
        directory.set(Entry(f"k{n:05}x", n, 10_000 + n))
        if n % 3:
            directory.remove(f"k{n:05}")
        else:
            directory.set(Entry(f"k{n:05}", "changed", 20_000 + n))
    assert read_view(view) == before
    live, _ = directory.page("", None, 20_000, 0.0, keys_only=False)
    assert len(live) == 5000 + 1667
    view.close()


async def test_a_string_entry_costs_little_more_than_its_key_and_value_bytes() -> None:
    """16-byte keys, 32-byte string values: what the store allocates per key, as traced.

    Its own share of a key beyond the key's str and the value's bytes is the
    revision (8 bytes), a bytes header and two pointers; an `Entry`, a
    separate int and str, or a dict per key would each take it past the bound.
    """
    keys = 20_000
    store = InMemoryStore(history=HistoryLimits(events=16))
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for n in range(keys):
            key, value = f"key-{n:012d}", f"value-{n:026d}"
            await store.write(Write.put(key, value, encode_value(value)))
        gc.collect()
        per_key = (tracemalloc.get_traced_memory()[0] - before) / keys
    finally:
        tracemalloc.stop()
    assert per_key <= 180, per_key
    await store.close()


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
