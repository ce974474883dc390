"""The storage port's transactions (`Store.transact`), run over every adapter, through the service.

A transaction's writes take one revision and are seen all together or not at
all (by `get`, listings and watchers); the branch follows the compares; a get
sees the writes before it; a transaction that changes nothing takes no
revision; concurrent transfers through two services never lose or make money.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any

import pytest

from kv.domain import (
    ChangeFeed,
    Decision,
    Entry,
    InvalidRequest,
    KeyValueService,
    Outcome,
    Read,
    Store,
    Transaction,
    ValueTooLarge,
    Write,
)
from kv.domain.transactions import MAX_COMPARES, MAX_OPS, Compare
from tests.contract.conftest import DURABLE, StoreClock
from tests.store_writes import put, take


def put_op(key: str, value: Any, **extra: Any) -> dict[str, Any]:
    return {"op": "put", "key": key, "value": value, **extra}


async def test_the_writes_of_a_transaction_take_one_revision(store: Store) -> None:
    service = KeyValueService(store)
    before = await store.write(put("old", 1))
    outcome = await service.txn(
        {"success": [put_op("a", 1), put_op("b", {"x": [2]}), {"op": "delete", "key": "old"}]}
    )
    assert outcome.succeeded
    assert outcome.changed
    assert outcome.revision > before.revision
    assert [r.decision for r in outcome.results] == [Decision.STORE] * 2 + [Decision.REMOVE]
    assert all(r.revision == outcome.revision for r in outcome.results)
    assert await store.get("a") == Entry("a", 1, outcome.revision)
    assert await store.get("b") == Entry("b", {"x": [2]}, outcome.revision)
    assert await store.get("old") is None
    listing = await store.list("", after=None, limit=10)
    assert [e.revision for e in listing.entries] == [outcome.revision] * 2
    after = await store.write(put("c", 1))
    assert after.revision > outcome.revision


async def test_the_compares_choose_the_branch(store: Store) -> None:
    service = KeyValueService(store)
    stored = (await store.write(put("k", {"n": 1}))).entry
    assert stored is not None
    holding = [
        {"key": "k", "revision": stored.revision},
        {"key": "k", "value": {"n": 1}},
        {"key": "k", "exists": True},
        {"key": "absent", "exists": False},
        {"key": "absent", "revision": 0},
    ]
    failing = [
        {"key": "k", "revision": stored.revision + 1000},
        {"key": "k", "revision": 0},
        {"key": "k", "value": {"n": 2}},
        {"key": "k", "value": {"n": 1.5}},
        {"key": "absent", "value": None},
        {"key": "k", "exists": False},
        {"key": "absent", "exists": True},
    ]
    branches = {"success": [{"op": "get", "key": "k"}], "failure": [{"op": "get", "key": "x"}]}
    chosen = await service.txn({"compare": holding, **branches})
    assert chosen.succeeded
    assert chosen.results[0].entry == stored
    for compare in failing:
        refused = await service.txn({"compare": [*holding, compare], **branches})
        assert not refused.succeeded, compare
        assert refused.results[0].entry is None
        assert not refused.changed
    assert await store.get("k") == stored


async def test_a_get_sees_the_writes_before_it_in_its_branch(store: Store) -> None:
    service = KeyValueService(store)
    outcome = await service.txn(
        {
            "success": [
                {"op": "get", "key": "a"},
                put_op("a", "new"),
                {"op": "get", "key": "a"},
                {"op": "delete", "key": "b"},
                {"op": "get", "key": "b"},
            ]
        }
    )
    first, written, seen, deleted, gone = outcome.results
    assert first.entry is None
    assert written.entry == Entry("a", "new", outcome.revision)
    assert seen.entry == written.entry
    assert deleted.decision is Decision.UNCHANGED  # a delete of nothing: deleted false
    assert deleted.previous is None
    assert gone.entry is None


async def test_a_transaction_that_changes_nothing_takes_no_revision(store: Store) -> None:
    service = KeyValueService(store)
    stored = await store.write(put("k", [1, 2]))
    outcome = await service.txn(
        {"success": [put_op("k", [1, 2]), {"op": "delete", "key": "nothing"}]}
    )
    assert not outcome.changed
    assert outcome.results[0].decision is Decision.UNCHANGED
    assert outcome.results[0].entry == stored.entry
    assert outcome.revision >= stored.revision
    failed = await service.txn({"compare": [{"key": "k", "exists": False}]})
    assert not failed.succeeded
    assert failed.results == ()
    after = await store.write(put("next", 1))
    assert after.revision > stored.revision
    # Exactly one revision was used since `stored`: only the put of "next".
    listing = await store.list("", after=None, limit=10)
    assert {e.key: e.revision for e in listing.entries}["k"] == stored.revision


async def test_a_transaction_put_may_carry_a_ttl(store: Store, clock: StoreClock) -> None:
    service = KeyValueService(store)
    outcome = await service.txn({"success": [put_op("t", 1, ttl=30), put_op("p", 2)]})
    timed = await store.get("t")
    assert timed is not None
    assert timed.expires_at is not None
    assert outcome.results[0].entry == timed
    kept = await store.get("p")
    assert kept is not None
    assert kept.expires_at is None


async def test_watchers_get_one_event_per_changed_key_at_the_revision_in_op_order(
    store: Store,
) -> None:
    assert isinstance(store, ChangeFeed)
    service = KeyValueService(store)
    await store.write(put("w/gone", 0))
    subscription = await store.subscribe("w/", None)
    try:
        outcome = await service.txn(
            {
                "success": [
                    put_op("w/b", 1),
                    {"op": "get", "key": "w/b"},
                    {"op": "delete", "key": "w/gone"},
                    put_op("w/a", 2),
                ]
            }
        )
        after = await store.write(put("w/z", 3))
        changes = await take(subscription, 4)
    finally:
        subscription.close()
    assert [(c.kind, c.key, c.revision) for c in changes] == [
        ("put", "w/b", outcome.revision),
        ("delete", "w/gone", outcome.revision),
        ("put", "w/a", outcome.revision),
        ("put", "w/z", after.revision),
    ]


async def test_a_watcher_is_handed_a_transaction_whole(store: Store) -> None:
    """`ready(1)` after the first change of a transaction hands out the rest of it too."""
    assert isinstance(store, ChangeFeed)
    service = KeyValueService(store)
    subscription = await store.subscribe("h/", None)
    try:
        outcome = await service.txn({"success": [put_op(f"h/{n}", n) for n in range(5)]})
        (first,) = await take(subscription, 1)
        rest = subscription.ready(1)
    finally:
        subscription.close()
    assert [c.revision for c in [first, *rest]] == [outcome.revision] * 5


@pytest.mark.parametrize(
    ("document", "error"),
    [
        ({"success": [put_op("a", 1), put_op("a", 2)]}, InvalidRequest),
        ({"success": [put_op("a", 1), {"op": "delete", "key": "a"}]}, InvalidRequest),
        ({"compare": [{"key": "a", "exists": True}] * (MAX_COMPARES + 1)}, InvalidRequest),
        ({"failure": [{"op": "get", "key": "a"}] * (MAX_OPS + 1)}, InvalidRequest),
        ({"success": [], "extra": 1}, InvalidRequest),
        ({"success": [{"op": "get", "key": "a", "value": 1}]}, InvalidRequest),
        ({"compare": [{"key": "a", "revision": 1, "exists": True}]}, InvalidRequest),
        ({"compare": [{"key": "a", "revision": -1}]}, InvalidRequest),
        ({"success": [{"op": "put", "key": "a"}]}, InvalidRequest),
        ({"success": [put_op("a", 1, ttl=0)]}, InvalidRequest),
        ({"success": [put_op("", 1)]}, InvalidRequest),
        ({"success": [{"op": "move", "key": "a"}]}, InvalidRequest),
        ({"success": [put_op("a", "x" * 600), put_op("b", "y" * 600)]}, ValueTooLarge),
        ([], InvalidRequest),
    ],
)
async def test_a_malformed_transaction_changes_nothing(
    store: Store, document: Any, error: type[Exception]
) -> None:
    service = KeyValueService(store, max_value_bytes=1000)
    with pytest.raises(error):
        await service.txn(document)
    assert await store.get("a") is None


async def test_a_key_may_be_written_once_in_each_branch(store: Store) -> None:
    service = KeyValueService(store)
    outcome = await service.txn(
        {
            "compare": [{"key": "a", "exists": True}],
            "success": [put_op("a", 1)],
            "failure": [put_op("a", 2)],
        }
    )
    assert not outcome.succeeded
    assert await store.get("a") == Entry("a", 2, outcome.revision)


async def test_the_port_answers_a_single_write_as_a_one_op_transaction(store: Store) -> None:
    write = put("k", 1)
    outcome: Outcome = await store.transact(Transaction.single(write))
    assert outcome.succeeded
    assert outcome.changed
    assert outcome.results[0].entry == Entry("k", 1, outcome.revision)
    read = await store.transact(
        Transaction((Compare("k", revision=outcome.revision),), (Read("k"),))
    )
    assert read.results[0].entry == Entry("k", 1, outcome.revision)
    delete = Write.delete("k", missing_ok=True)
    gone = await store.transact(Transaction(success=(delete,)))
    assert gone.results[0].previous == Entry("k", 1, outcome.revision)


async def transfer(service: KeyValueService, keys: list[str], rng: random.Random) -> bool:
    """Move a random amount between two random accounts, guarded by their revisions."""
    source, target = rng.sample(keys, 2)
    read = await service.txn(
        {"success": [{"op": "get", "key": source}, {"op": "get", "key": target}]}
    )
    have, want = (result.entry for result in read.results)
    assert have is not None
    assert want is not None
    amount = rng.randint(1, 5)
    assert isinstance(have.value, int)
    assert isinstance(want.value, int)
    moved = await service.txn(
        {
            "compare": [
                {"key": source, "revision": have.revision},
                {"key": target, "revision": want.revision},
            ],
            "success": [put_op(source, have.value - amount), put_op(target, want.value + amount)],
        }
    )
    return moved.succeeded


async def test_concurrent_transfers_through_two_services_keep_the_total(
    store: Store, other_store: Store
) -> None:
    """Bank transfers from two services at once: every audit (one read-only transaction
    over every account) sees the same total, and so does the end."""
    services = [KeyValueService(store), KeyValueService(other_store)]
    keys = [f"bank/{n}" for n in range(4)]
    await services[0].txn({"success": [put_op(key, 100) for key in keys]})
    audits: list[int] = []

    async def client(number: int) -> int:
        rng = random.Random(number)
        service = services[number % 2]
        done = 0
        for _ in range(15):
            done += await transfer(service, keys, rng)
            audit = await service.txn({"success": [{"op": "get", "key": k} for k in keys]})
            entries = [result.entry for result in audit.results]
            audits.append(
                sum(e.value for e in entries if e is not None and isinstance(e.value, int))
            )
        return done

    done = await asyncio.gather(*(client(n) for n in range(6)))
    assert sum(done) > 0
    assert set(audits) == {400}
    final = [await services[1].get(key) for key in keys]
    assert sum(e.value for e in final if isinstance(e.value, int)) == 400


async def test_a_durable_store_keeps_a_transaction_whole_across_reopen(
    store_factory: Callable[[], Store], store_name: str
) -> None:
    if store_name not in DURABLE:
        pytest.skip(f"the {store_name} store is not durable by design")
    store = store_factory()
    await store.open()
    outcome = await KeyValueService(store).txn(
        {"success": [put_op("d/a", 1), put_op("d/b", 2), {"op": "delete", "key": "d/none"}]}
    )
    await store.close()
    reopened = store_factory()
    await reopened.open()
    try:
        assert await reopened.get("d/a") == Entry("d/a", 1, outcome.revision)
        assert await reopened.get("d/b") == Entry("d/b", 2, outcome.revision)
        after = await reopened.write(put("d/c", 3))
        assert after.revision > outcome.revision
    finally:
        await reopened.close()
