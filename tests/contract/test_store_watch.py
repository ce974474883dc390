"""The change feed's contract (`kv.domain.ChangeFeed`), run over every adapter that has one.

Every committed change (put, create, delete, expiry) reaches a watcher once,
in revision order; a watcher starts from a past revision while the history
holds it, and is told Compacted (with the oldest revision kept) once it does
not; the history is bounded in changes and in bytes; a watcher too slow is
cut off rather than buffered for; closing the store ends every watcher.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from kv.adapters.history import HistoryLimits
from kv.adapters.memory import InMemoryStore
from kv.adapters.sqlite import SqliteStore
from kv.domain import (
    Change,
    ChangeFeed,
    Compacted,
    JsonValue,
    Store,
    Subscription,
    WatcherTooSlow,
    Write,
)
from kv.domain.model import encode_value
from tests.contract.conftest import DURABLE, SWEEP_INTERVAL, StoreClock
from tests.etcd.cluster import etcd_store
from tests.store_writes import EVENT_WAIT_SECONDS, put, take

POLL_SECONDS = 0.01

# name -> factory(directory, clock, history limits): the engines whose history of recent
# changes this suite bounds itself (etcd's is each replica's ring of its shared watch).
BOUNDED: dict[str, Callable[[Path, StoreClock, HistoryLimits], Store]] = {
    "etcd": lambda directory, clock, limits: etcd_store(directory, history=limits),
    "memory": lambda directory, clock, limits: InMemoryStore(
        clock=clock, sweep_interval=SWEEP_INTERVAL, history=limits
    ),
    "sqlite": lambda directory, clock, limits: SqliteStore(
        directory / "data", clock=clock, sweep_interval=SWEEP_INTERVAL, history=limits
    ),
}


# Engines whose history is kept by the engine, not by the store object: it outlives a reopen,
# and a watch older than the store's ring is served from it (compacted by the engine:
# tests/etcd/test_etcd_watch.py).
HISTORY_OUTLIVES_THE_STORE = {"etcd"}


def feed_of(store: Store) -> ChangeFeed:
    assert isinstance(store, ChangeFeed), f"{type(store).__name__} has no change feed"
    return store


async def found_too_slow(subscription: Subscription) -> None:
    """Returns only if the feed never finds `subscription` too slow; takes no change.

    Polled: an engine may publish a change after its write returns (etcd: through its watch).
    """
    for _ in range(int(EVENT_WAIT_SECONDS / POLL_SECONDS)):
        subscription.ready(0)  # WatcherTooSlow once the feed holds too many changes for it
        await asyncio.sleep(POLL_SECONDS)


def seen(changes: list[Change]) -> list[tuple[str, str, int, JsonValue]]:
    return [(c.kind, c.key, c.revision, c.value) for c in changes]


@pytest.fixture
async def bounded(
    store_name: str, tmp_path: Path, clock: StoreClock
) -> AsyncIterator[Callable[[HistoryLimits], Store]]:
    """Opens stores of the engine under test with the history bounds a test asks for."""
    if store_name not in BOUNDED:
        pytest.skip(f"{store_name} bounds its history itself")
    opened: list[Store] = []

    async def open_store(limits: HistoryLimits) -> Store:
        store = BOUNDED[store_name](tmp_path, clock, limits)
        await store.open()
        opened.append(store)
        return store

    yield open_store  # type: ignore[misc]
    for store in opened:
        await store.close()


async def test_every_change_in_revision_order_with_what_it_did(store: Store) -> None:
    subscription = await feed_of(store).subscribe("w/", None)
    a1 = await store.write(put("w/a", {"n": 1}))
    await store.write(put("other", 0))
    b = await store.write(Write.create("w/b", [2], encode_value([2])))
    await store.write(put("w/a", {"n": 1}))  # the same value: no change, no event
    d = await store.write(Write.delete("w/a"))
    changes = await take(subscription, 3)
    assert seen(changes) == [
        ("put", "w/a", a1.revision, {"n": 1}),
        ("put", "w/b", b.revision, [2]),
        ("delete", "w/a", d.revision, None),
    ]
    assert changes[0].value_json == b'{"n":1}'
    assert not any(change.expired for change in changes)


async def test_a_watch_starts_at_a_past_revision_or_the_first_after_it(store: Store) -> None:
    first = await store.write(put("p/a", 1))
    await store.write(put("q/x", 1))
    second = await store.write(put("p/b", 2))
    from_first = await feed_of(store).subscribe("p/", first.revision)
    assert [c.revision for c in await take(from_first, 2)] == [first.revision, second.revision]
    # A revision of a change outside the prefix: the first change under it after that.
    from_between = await feed_of(store).subscribe("p/", first.revision + 1)
    assert [c.revision for c in await take(from_between, 1)] == [second.revision]


async def test_a_future_revision_waits_for_it(store: Store) -> None:
    now = (await store.write(put("f/a", 1))).revision
    subscription = await feed_of(store).subscribe("f/", now + 2)
    await store.write(put("f/a", 2))
    third = await store.write(put("f/a", 3))
    assert [c.revision for c in await take(subscription, 1)] == [third.revision]


async def test_concurrent_writers_reach_a_watcher_in_revision_order(store: Store) -> None:
    subscription = await feed_of(store).subscribe("c/", None)
    written = await asyncio.gather(*(store.write(put(f"c/{n % 7}", n)) for n in range(60)))
    changes = await take(subscription, 60)
    revisions = [change.revision for change in changes]
    assert revisions == sorted(w.revision for w in written)
    assert all(
        change.value == w.entry.value
        for change, w in zip(changes, sorted(written, key=lambda w: w.revision), strict=True)
        if w.entry is not None
    )


async def test_an_expiry_is_a_delete_marked_expired(store: Store, clock: StoreClock) -> None:
    subscription = await feed_of(store).subscribe("e/", None)
    written = await store.write(put("e/k", "soon gone", ttl=1))
    await clock.advance(2)
    put_change, expiry = await take(subscription, 2)
    assert (put_change.kind, put_change.revision) == ("put", written.revision)
    assert (expiry.kind, expiry.key, expiry.expired) == ("delete", "e/k", True)
    assert expiry.revision > written.revision


async def test_a_delete_of_a_key_with_a_ttl_is_not_an_expiry(store: Store) -> None:
    subscription = await feed_of(store).subscribe("u/", None)
    await store.write(put("u/k", "ttl", ttl=3600))
    deleted = await store.write(Write.delete("u/k"))
    expires = await store.write(put("u/k", "again", ttl=3600))
    listed = await store.list("u/", after=None, limit=10)
    assert [entry.key for entry in listed.entries] == ["u/k"]
    _, delete, again = await take(subscription, 3)
    assert (delete.kind, delete.revision, delete.expired) == ("delete", deleted.revision, False)
    assert (again.kind, again.revision) == ("put", expires.revision)


async def test_closing_the_store_ends_every_watcher(store_factory: Callable[[], Store]) -> None:
    store = store_factory()
    await store.open()
    subscription = await feed_of(store).subscribe("", None)
    waiting = asyncio.ensure_future(anext(subscription))
    await asyncio.sleep(0)
    await store.close()
    with pytest.raises(StopAsyncIteration):
        async with asyncio.timeout(EVENT_WAIT_SECONDS):
            await waiting


async def test_a_closed_subscription_ends_while_others_go_on(store: Store) -> None:
    closed = await feed_of(store).subscribe("", None)
    other = await feed_of(store).subscribe("", None)
    waiting = asyncio.ensure_future(anext(closed))
    await asyncio.sleep(0)
    closed.close()
    with pytest.raises(StopAsyncIteration):
        async with asyncio.timeout(EVENT_WAIT_SECONDS):
            await waiting
    written = await store.write(put("k", 1))
    assert [c.revision for c in await take(other, 1)] == [written.revision]


async def test_history_bounded_in_changes_then_compacted(
    store_name: str, bounded: Callable[[HistoryLimits], Store]
) -> None:
    if store_name in HISTORY_OUTLIVES_THE_STORE:
        pytest.skip(f"{store_name} serves a watch older than its ring from the engine's history")
    store = await bounded(HistoryLimits(events=4))  # type: ignore[misc]
    revisions = [(await store.write(put("h", n))).revision for n in range(10)]
    kept = await take(await feed_of(store).subscribe("", revisions[-4]), 4)
    assert [c.revision for c in kept] == revisions[-4:]
    with pytest.raises(Compacted) as raised:
        await feed_of(store).subscribe("", revisions[-5])
    assert raised.value.oldest == revisions[-4]
    assert str(revisions[-4]) in str(raised.value)


async def test_history_bounded_in_bytes(
    store_name: str, bounded: Callable[[HistoryLimits], Store]
) -> None:
    if store_name in HISTORY_OUTLIVES_THE_STORE:
        pytest.skip(f"{store_name} serves a watch older than its ring from the engine's history")
    store = await bounded(HistoryLimits(events=1000, bytes=5000))  # type: ignore[misc]
    revisions = [(await store.write(put("b", "x" * 1000 + str(n)))).revision for n in range(20)]
    with pytest.raises(Compacted) as raised:
        await feed_of(store).subscribe("", revisions[0])
    # Each change holds its value (1000+ bytes), so at most 5 fit in 5000 bytes.
    assert revisions[-5] <= raised.value.oldest <= revisions[-1]


async def test_a_watcher_too_slow_is_cut_off_and_can_resume(
    bounded: Callable[[HistoryLimits], Store],
) -> None:
    store = await bounded(HistoryLimits(events=20))  # type: ignore[misc]
    slow = await feed_of(store).subscribe("", None)
    revisions = [(await store.write(put("s", n))).revision for n in range(11)]
    with pytest.raises(WatcherTooSlow):
        await found_too_slow(slow)
    with pytest.raises(StopAsyncIteration):
        await anext(slow)
    resumed = await feed_of(store).subscribe("", revisions[0])
    assert [c.revision for c in await take(resumed, 11)] == revisions


async def test_a_reopened_store_keeps_no_history_before_it_opened(
    store_name: str, store_factory: Callable[[], Store]
) -> None:
    if store_name not in DURABLE - HISTORY_OUTLIVES_THE_STORE:
        pytest.skip(f"{store_name} is not durable, or its history is the engine's own")
    store = store_factory()
    await store.open()
    last = (await store.write(put("r", 1))).revision
    await store.close()
    reopened = store_factory()
    await reopened.open()
    try:
        with pytest.raises(Compacted) as raised:
            await feed_of(reopened).subscribe("", last)
        assert raised.value.oldest == last + 1
        resumed = await feed_of(reopened).subscribe("", last + 1)
        written = await reopened.write(put("r", 2))
        assert [c.revision for c in await take(resumed, 1)] == [written.revision]
    finally:
        await reopened.close()


async def test_the_history_of_an_engine_outlives_a_store_object(
    store_name: str, store_factory: Callable[[], Store]
) -> None:
    if store_name not in HISTORY_OUTLIVES_THE_STORE:
        pytest.skip(f"{store_name} keeps its history in the store object")
    store = store_factory()
    await store.open()
    first = (await store.write(put("o", 1))).revision
    await store.close()
    reopened = store_factory()
    await reopened.open()
    try:
        replayed = await feed_of(reopened).subscribe("", first)
        second = await reopened.write(put("o", 2))
        assert [c.revision for c in await take(replayed, 2)] == [first, second.revision]
    finally:
        await reopened.close()
