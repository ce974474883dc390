"""The snapshot contract (`kv.domain.ports.Snapshots`, `StoreSnapshot`), run over every adapter.

A snapshot shows exactly the store's live entries at its revision, in key
order, page after page, whatever is written meanwhile; its count is exact;
entries expired when it was taken are left out.
"""

from __future__ import annotations

import asyncio
import random

import pytest

from kv.domain import (
    Entry,
    JsonValue,
    KeyNotFound,
    Snapshots,
    StorageUnavailable,
    Store,
    StoreSnapshot,
    Write,
)
from tests.contract.conftest import StoreClock
from tests.store_writes import put

POLL_SECONDS = 0.01
POLL_LIMIT = 2000  # 20 s: generous for a loaded machine


def snapshots_of(store: Store) -> Snapshots:
    assert isinstance(store, Snapshots), f"{type(store).__name__} takes no snapshots"
    return store


async def read_all(snapshot: StoreSnapshot, limit: int, *, pause: bool = False) -> list[Entry]:
    """Every entry of `snapshot`, `limit` a page; with `pause`, other tasks run between pages."""
    entries: list[Entry] = []
    after = None
    while True:
        listing = await snapshot.page(after, limit)
        assert len(listing.entries) <= limit
        assert listing.revision == snapshot.revision
        entries += listing.entries
        if not listing.more:
            return entries
        assert listing.entries, "a page that says more follows must not be empty"
        after = listing.entries[-1].key
        if pause:
            await asyncio.sleep(0.001)


async def test_an_empty_store_has_an_empty_snapshot(store: Store) -> None:
    snapshot = await snapshots_of(store).snapshot()
    try:
        assert await snapshot.count() == 0
        listing = await snapshot.page(None, 10)
        assert listing.entries == ()
        assert not listing.more
    finally:
        await snapshot.close()


async def test_a_snapshot_shows_the_entries_at_its_revision_not_later_writes(
    store: Store,
) -> None:
    await store.write(put("a", "first"))
    await store.write(put("b", {"n": 1}))
    last = await store.write(put("c", [1, 2]))
    snapshot = await snapshots_of(store).snapshot()
    try:
        assert snapshot.revision == last.revision
        await store.write(put("a", "second"))
        await store.write(Write.delete("b"))
        await store.write(put("d", None))
        assert await snapshot.count() == 3
        entries = await read_all(snapshot, 2)
        assert [(e.key, e.value) for e in entries] == [
            ("a", "first"),
            ("b", {"n": 1}),
            ("c", [1, 2]),
        ]
        assert all(e.revision <= snapshot.revision for e in entries)
        # The store itself has moved on.
        assert (await store.get("a")) is not None
        assert (await store.get("b")) is None
    finally:
        await snapshot.close()


async def test_pages_are_in_utf8_byte_order_each_key_once(store: Store) -> None:
    keys = ["z", "a/b", "a", "é", "\n", "a\x00b", "日本", "A", "ab", "a/"]
    keys += [f"k{n:03}" for n in range(40)]
    for key in keys:
        await store.write(put(key, key))
    snapshot = await snapshots_of(store).snapshot()
    try:
        for limit in (1, 3, 1000):
            entries = await read_all(snapshot, limit)
            assert [e.key for e in entries] == sorted(keys, key=lambda k: k.encode())
            assert all(e.value == e.key for e in entries)
        assert await snapshot.count() == len(keys)
    finally:
        await snapshot.close()


async def test_entries_expired_when_the_snapshot_is_taken_are_left_out(
    store: Store, clock: StoreClock
) -> None:
    await store.write(put("short", 1, ttl=1))
    await store.write(put("long", 2, ttl=3600))
    await store.write(put("plain", 3))
    await clock.advance(1.5)
    snapshot = await snapshots_of(store).snapshot()
    try:
        assert await snapshot.count() == 2
        entries = await read_all(snapshot, 10)
        assert [e.key for e in entries] == ["long", "plain"]
        long = entries[0]
        assert long.expires_at is not None
        assert snapshot.taken_at < long.expires_at <= snapshot.taken_at + 3600
    finally:
        await snapshot.close()


async def test_an_entry_removed_by_its_expiry_after_the_snapshot_is_still_in_it(
    store: Store, clock: StoreClock
) -> None:
    """Live at the snapshot's revision, so in it, though the store removes it meanwhile."""
    await store.write(put("t", "brief", ttl=1))
    last = await store.write(put("plain", 1))
    snapshot = await snapshots_of(store).snapshot()
    try:
        await clock.advance(1.5)
        for _ in range(POLL_LIMIT):  # until the store has removed it, at a revision of its own
            if (await store.list("", after=None, limit=1)).revision > last.revision:
                break
            await asyncio.sleep(POLL_SECONDS)
        else:
            raise AssertionError("the expired entry was never removed")
        assert [(e.key, e.value) for e in await read_all(snapshot, 10)] == [
            ("plain", 1),
            ("t", "brief"),
        ]
        assert await snapshot.count() == 2
    finally:
        await snapshot.close()


async def test_a_closed_snapshot_cannot_be_read(store: Store) -> None:
    await store.write(put("a", 1))
    snapshot = await snapshots_of(store).snapshot()
    await snapshot.close()
    await snapshot.close()  # twice is harmless
    with pytest.raises(StorageUnavailable):
        await snapshot.page(None, 10)


async def test_two_snapshots_each_keep_their_own_revision(store: Store) -> None:
    await store.write(put("k", 1))
    first = await snapshots_of(store).snapshot()
    await store.write(put("k", 2))
    second = await snapshots_of(store).snapshot()
    await store.write(put("k", 3))
    try:
        assert [e.value for e in await read_all(first, 10)] == [1]
        await first.close()
        assert [e.value for e in await read_all(second, 10)] == [2]
    finally:
        await first.close()
        await second.close()


KEYS = 60
WRITERS = 4
WRITES_EACH = 150


async def test_a_snapshot_during_heavy_writes_is_the_state_at_its_revision(store: Store) -> None:
    """Writers put and delete while the snapshot is read slowly: the pages must be exactly
    the state the write log gives at the snapshot's revision."""
    log: dict[int, tuple[str, JsonValue | None]] = {}  # revision -> (key, value; None: deleted)
    for n in range(KEYS):
        written = await store.write(put(f"key/{n:03}", {"n": n, "w": "initial"}))
        log[written.revision] = (f"key/{n:03}", {"n": n, "w": "initial"})

    async def writer(number: int) -> None:
        chance = random.Random(number)
        for step in range(WRITES_EACH):
            key = f"key/{chance.randrange(KEYS + 20):03}"
            if chance.random() < 0.3:
                try:
                    written = await store.write(Write.delete(key))
                except KeyNotFound:
                    continue
                log[written.revision] = (key, None)
            else:
                value = {"n": number, "w": step}
                written = await store.write(put(key, value))
                log[written.revision] = (key, value)
            if len(log) >= KEYS + WRITERS * WRITES_EACH // 8:
                under_way.set()
            await asyncio.sleep(0)

    under_way = asyncio.Event()
    writers = [asyncio.create_task(writer(n)) for n in range(WRITERS)]
    await under_way.wait()
    snapshot = await snapshots_of(store).snapshot()
    try:
        count = await snapshot.count()
        entries = await read_all(snapshot, 7, pause=True)
    finally:
        await snapshot.close()
        await asyncio.gather(*writers)
    state: dict[str, tuple[JsonValue, int]] = {}
    for revision in sorted(log):
        if revision > snapshot.revision:
            break
        key, value = log[revision]
        if value is None:
            state.pop(key, None)
        else:
            state[key] = (value, revision)
    assert max(log) > snapshot.revision, "the writers wrote nothing after the snapshot"
    assert {e.key: (e.value, e.revision) for e in entries} == state
    assert [e.key for e in entries] == sorted(state)
    assert count == len(entries)
