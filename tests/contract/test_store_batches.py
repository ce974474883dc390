"""The storage port's batches (`Store.transact_many`), run over every adapter.

A batch is applied as if its transactions were sent one by one: in order,
each at a revision of its own, each deciding on what the ones before it
left, each with its own outcome or error; watchers see its changes in that
order, and a durable store keeps them across a reopen. Through the service
(`write_batch`), each write is checked as it would be alone.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kv.domain import (
    ChangeFeed,
    Compare,
    Condition,
    Decision,
    Entry,
    KeyExists,
    KeyNotFound,
    KeyValueService,
    Outcome,
    PreconditionFailed,
    Read,
    Store,
    Transaction,
    Write,
)
from kv.domain.idempotency import IdempotentRequest
from tests.contract.conftest import DURABLE, StoreClock
from tests.store_writes import put, take


def single(write: Write) -> Transaction:
    return Transaction.single(write)


def outcomes(results: list[Outcome | Exception]) -> list[Outcome]:
    assert all(isinstance(result, Outcome) for result in results), results
    return [result for result in results if isinstance(result, Outcome)]


async def test_a_batch_applies_in_order_each_at_its_own_revision(store: Store) -> None:
    results = await store.transact_many(
        [
            single(put("b/a", 1)),
            single(put("b/b", 2)),
            single(put("b/a", 1)),  # the same value: unchanged
            single(Write.create("b/a", 3, b"3")),  # KeyExists: its own error
            single(Write.delete("b/none")),  # KeyNotFound: its own error
            single(Write.delete("b/b")),
            single(put("b/a", 4, Condition.exists())),
            single(put("b/b", 5, Condition.exists())),  # b was deleted just before
        ]
    )
    assert len(results) == 8
    assert isinstance(results[3], KeyExists)
    assert isinstance(results[4], KeyNotFound)
    assert isinstance(results[7], PreconditionFailed)
    a1, b1, same, _, _, gone, a2, _ = results
    assert isinstance(a1, Outcome)
    assert isinstance(b1, Outcome)
    assert isinstance(same, Outcome)
    assert isinstance(gone, Outcome)
    assert isinstance(a2, Outcome)
    assert a1.revision < b1.revision < gone.revision < a2.revision
    assert not same.changed
    assert same.results[0].revision == a1.revision
    assert same.results[0].decision is Decision.UNCHANGED
    assert gone.results[0].previous == Entry("b/b", 2, b1.revision)
    assert a2.results[0].previous == Entry("b/a", 1, a1.revision)
    assert await store.get("b/a") == Entry("b/a", 4, a2.revision)
    assert await store.get("b/b") is None
    after = await store.write(put("b/c", 6))
    assert after.revision > a2.revision


async def test_each_decides_on_what_the_ones_before_it_left(store: Store) -> None:
    results = outcomes(
        await store.transact_many(
            [
                single(Write.create("d/x", 1, b"1")),
                single(Write.delete("d/x")),
                single(Write.create("d/x", 2, b"2")),
            ]
        )
    )
    created, deleted, again = (outcome.results[0] for outcome in results)
    assert deleted.previous == created.entry
    assert again.previous is None
    assert await store.get("d/x") == again.entry


async def test_watchers_see_a_batch_in_its_order(store: Store) -> None:
    if not isinstance(store, ChangeFeed):
        pytest.skip("the store has no change feed")
    subscription = await store.subscribe("w/", None)
    try:
        results = outcomes(
            await store.transact_many(
                [single(put("w/a", 1)), single(put("w/b", 2)), single(Write.delete("w/a"))]
            )
        )
        changes = await take(subscription, 3)
    finally:
        subscription.close()
    assert [(c.key, c.revision) for c in changes] == [
        ("w/a", results[0].revision),
        ("w/b", results[1].revision),
        ("w/a", results[2].revision),
    ]
    assert [c.entry is None for c in changes] == [False, False, True]


async def test_the_service_checks_each_write_of_a_batch_as_alone(store: Store) -> None:
    service = KeyValueService(store)
    first = IdempotentRequest("batch-key", "fingerprint")
    second = IdempotentRequest("batch-key", "fingerprint")
    answers = await service.write_batch(
        [
            service.plan_put("s/a", {"v": 1}, idempotency=first),
            service.plan_create("s/a", 2),
            service.plan_put("s/a", {"v": 3}, idempotency=second),  # a replay of the first
            service.plan_delete("s/a"),
        ]
    )
    put_a, refused, replayed, deleted = answers
    assert isinstance(refused, KeyExists)
    assert not isinstance(put_a, Exception)
    assert put_a.entry is not None
    assert not isinstance(replayed, Exception)
    assert replayed.entry == put_a.entry
    assert not first.replayed
    assert second.replayed
    assert not isinstance(deleted, Exception)
    assert deleted.previous == put_a.entry
    assert await store.get("s/a") is None


async def test_a_durable_store_keeps_a_batch_across_reopen(
    store_factory: Callable[[], Store], store_name: str
) -> None:
    if store_name not in DURABLE:
        pytest.skip(f"the {store_name} store is not durable by design")
    store = store_factory()
    await store.open()
    results = outcomes(await store.transact_many([single(put(f"k/{n}", n)) for n in range(20)]))
    await store.close()
    reopened = store_factory()
    await reopened.open()
    try:
        for n, outcome in enumerate(results):
            assert await reopened.get(f"k/{n}") == Entry(f"k/{n}", n, outcome.revision)
        after = await reopened.write(put("k/after", 1))
        assert after.revision > results[-1].revision
    finally:
        await reopened.close()


async def test_an_expired_key_in_a_batch_is_removed_at_a_revision_of_its_own(
    store: Store, clock: StoreClock
) -> None:
    if not isinstance(store, ChangeFeed):
        pytest.skip("the store has no change feed")
    subscription = await store.subscribe("x/", None)
    try:
        first = await store.write(put("x/k", "soon gone", ttl=1))
        await clock.advance(2)
        results = outcomes(
            await store.transact_many(
                [single(put("x/a", 1)), single(put("x/k", "again")), single(put("x/b", 2))]
            )
        )
        changes = await take(subscription, 5)
    finally:
        subscription.close()
    revisions = [change.revision for change in changes]
    assert revisions == sorted(revisions)
    assert len(set(revisions)) == 5
    assert revisions[0] == first.revision
    assert [(c.key, c.expired) for c in changes if c.entry is None] == [("x/k", True)]
    assert [c.revision for c in changes if c.entry is not None][1:] == [
        outcome.revision for outcome in results
    ]
    assert await store.get("x/k") == Entry("x/k", "again", results[1].revision)


async def test_a_batch_mixes_whole_transactions_with_single_writes(store: Store) -> None:
    both = Transaction(
        compare=(Compare("m/a", revision=0),),
        success=(put("m/a", 1), Read("m/b"), put("m/b", 2)),
        failure=(Read("m/a"),),
    )
    results = outcomes(
        await store.transact_many(
            [single(put("m/b", 0)), both, single(put("m/a", 3)), both, single(Write.delete("m/b"))]
        )
    )
    first, ran, after, again, deleted = results
    assert ran.succeeded
    assert first.revision < ran.revision < after.revision < deleted.revision
    assert [written.revision for written in ran.results] == [
        ran.revision,
        first.revision,
        ran.revision,
    ]
    assert ran.results[1].entry == first.results[0].entry
    assert not again.succeeded
    assert not again.changed
    assert again.results[0].entry == after.results[0].entry
    assert deleted.results[0].previous == ran.results[2].entry
    assert await store.get("m/a") == Entry("m/a", 3, after.revision)
    assert await store.get("m/b") is None
