"""The storage port's listing contract (Store.list), run over every adapter."""

from __future__ import annotations

import random

from kv.domain import Entry, Store, Write
from tests.store_writes import put


async def list_all(store: Store, prefix: str, limit: int) -> list[Entry]:
    """Every page of a listing, page after page as the service pages."""
    found: list[Entry] = []
    after: str | None = None
    while True:
        listing = await store.list(prefix, after=after, limit=limit)
        assert len(listing.entries) <= limit
        found += listing.entries
        if not listing.more:
            return found
        assert listing.entries
        after = listing.entries[-1].key


async def test_an_empty_store_lists_nothing(store: Store) -> None:
    listing = await store.list("", after=None, limit=10)
    assert listing.entries == ()
    assert not listing.more


async def test_keys_come_in_utf8_byte_order(store: Store) -> None:
    keys = ["b", "a", "a/b", "ab", "a\x00", "A", "é", "z", "🔑", "\uffff", "\uff41", "a b", "\x7f"]
    for key in keys:
        await store.write(put(key, key))
    listed = [entry.key for entry in await list_all(store, "", 3)]
    assert listed == sorted(keys, key=lambda key: key.encode("utf-8"))


async def test_a_page_holds_whole_entries_and_the_revision(store: Store) -> None:
    first = await store.write(put("p/1", {"n": 1}))
    last = await store.write(put("p/2", [2]))
    listing = await store.list("p/", after=None, limit=10)
    assert listing.entries == (first.entry, last.entry)
    assert not listing.more
    assert listing.revision >= last.revision
    keys_only = await store.list("p/", after=None, limit=10, keys_only=True)
    assert [(e.key, e.revision) for e in keys_only.entries] == [
        ("p/1", first.revision),
        ("p/2", last.revision),
    ]
    assert all(entry.value is None for entry in keys_only.entries)


async def test_only_keys_under_the_prefix_are_listed(store: Store) -> None:
    for key in ["a", "ab", "abc", "abd", "ac", "b", "ab\U0010ffff", "a\uffff"]:
        await store.write(put(key, 1))
    assert [e.key for e in await list_all(store, "ab", 2)] == ["ab", "abc", "abd", "ab\U0010ffff"]
    assert [e.key for e in await list_all(store, "abc", 1)] == ["abc"]
    assert await list_all(store, "x", 5) == []


async def test_after_is_exclusive_and_more_says_whether_another_follows(store: Store) -> None:
    for key in ["k1", "k2", "k3"]:
        await store.write(put(key, 1))
    page = await store.list("k", after="k1", limit=1)
    assert ([e.key for e in page.entries], page.more) == (["k2"], True)
    page = await store.list("k", after="k2", limit=1)
    assert ([e.key for e in page.entries], page.more) == (["k3"], False)
    page = await store.list("k", after="k0-not-a-key", limit=5)
    assert [e.key for e in page.entries] == ["k1", "k2", "k3"]
    page = await store.list("k", after="k3", limit=5)
    assert (page.entries, page.more) == ((), False)


async def test_every_unwritten_key_appears_once_while_others_change(store: Store) -> None:
    steady = {f"s/{i:04}" for i in range(300)}
    churn = [f"s/{i:04}x" for i in range(300)]
    for key in sorted(steady):
        await store.write(put(key, key))
    rng = random.Random(7)
    seen: list[str] = []
    after: str | None = None
    while True:
        listing = await store.list("s/", after=after, limit=7)
        seen += [e.key for e in listing.entries]
        for key in rng.sample(churn, 5):  # between pages: create some, delete others
            if await store.get(key) is None:
                await store.write(put(key, 1))
            else:
                await store.write(Write.delete(key))
        if not listing.more:
            break
        after = listing.entries[-1].key
    assert seen == sorted(seen)
    assert len(seen) == len(set(seen))
    assert steady <= set(seen)


async def test_deleted_keys_are_not_listed(store: Store) -> None:
    for key in ["d/1", "d/2", "d/3"]:
        await store.write(put(key, 1))
    await store.write(Write.delete("d/2"))
    assert [e.key for e in await list_all(store, "d/", 1)] == ["d/1", "d/3"]
