"""idempotency: a write retried with its `Idempotency-Key` is applied once and answered again.

For each kind of write (PUT, POST, DELETE, a transaction) the scenario sends
it with a key of its own, lets another write change the key, then sends the
same write with the same key again. The second answer must be the first
(same entry, revision, `created`), flagged as a replay, and the other
write must still stand: the replay applied nothing (a create answered 409
or a delete answered 404 means the key was ignored; the other write
overwritten means the write was applied again). The same key with another
request must be refused (IdempotencyKeyReused, HTTP 422) and change nothing.

It uses only the key routes, `POST /v1/txn` and the idempotency key (HTTP
header, gRPC metadata). The RESP API has no idempotency key: over RESP
there is nothing to prove.
"""

from __future__ import annotations

import uuid
from typing import Any

from testclient.checks import attempt, describe, same
from testclient.client import IdempotencyKeyReused, KVClientError, NotFound
from testclient.scenarios.context import ScenarioContext
from testclient.transports import CLIENTS


async def idempotency(run: ScenarioContext) -> None:
    if not CLIENTS[run.client.transport].idempotency_keys:
        run.checks.record(
            "idempotency keys are carried over HTTP and gRPC only",
            True,
            f"the {run.client.transport} API has no idempotency key: nothing to prove over it",
        )
        return
    await _put(run)
    await _create_and_delete(run)
    await _txn(run)


def _key() -> str:
    return f"kv-testclient-{uuid.uuid4().hex}"


def _replayed(run: ScenarioContext, what: str, first: Any, again: Any) -> None:
    """`again` is `first`, answered again as a replay."""
    report = getattr(again, "idempotency", None)
    run.checks.record(
        f"{what} again with its key is answered as a replay",
        report is not None and report.replayed,
        f"observed {describe(again)} (report {report})",
    )
    run.checks.record(
        f"{what} again with its key gets the first answer",
        not isinstance(again, KVClientError) and same(first, again),
        f"expected {describe(first)}, observed {describe(again)}",
    )


async def _put(run: ScenarioContext) -> None:
    client, checks = run.client, run.checks
    key, once = run.key("put"), _key()
    first = await client.put(key, {"n": 1}, idempotency_key=once)
    checks.record(
        "the first PUT with a key is carried out, not replayed",
        first.idempotency is not None and not first.idempotency.replayed,
        f"observed {describe(first)} (report {first.idempotency})",
    )
    later = await client.put(key, {"n": 2})
    _replayed(run, "a PUT", first, await attempt(client.put(key, {"n": 1}, idempotency_key=once)))
    checks.expect_equal(
        "the replayed PUT applied nothing: a later write stands", later.entry, await client.get(key)
    )
    reused = await attempt(client.put(key, {"n": 3}, idempotency_key=once))
    checks.expect_error("the key with another body is refused", IdempotencyKeyReused, reused)
    other_key = await attempt(client.put(run.key("put-other"), {"n": 1}, idempotency_key=once))
    checks.expect_error("the key with another key is refused", IdempotencyKeyReused, other_key)
    checks.expect_equal("a refused reuse changes nothing", later.entry, await client.get(key))
    checks.expect_error(
        "a refused reuse creates nothing",
        NotFound,
        await attempt(client.get(run.key("put-other"))),
    )


async def _create_and_delete(run: ScenarioContext) -> None:
    client, checks = run.client, run.checks
    key, created_once, deleted_once = run.key("created"), _key(), _key()
    created = await client.create(key, "first", idempotency_key=created_once)
    _replayed(
        run,
        "a POST",
        created,
        await attempt(client.create(key, "first", idempotency_key=created_once)),
    )
    deleted = await client.delete(key, idempotency_key=deleted_once)
    later = await client.create(key, "created after the delete")
    _replayed(
        run, "a DELETE", deleted, await attempt(client.delete(key, idempotency_key=deleted_once))
    )
    checks.expect_equal(
        "the replayed DELETE applied nothing", later, await attempt(client.get(key))
    )
    reused = await attempt(client.create(key, "other", idempotency_key=created_once))
    checks.expect_error("a POST's key on another body is refused", IdempotencyKeyReused, reused)


async def _txn(run: ScenarioContext) -> None:
    client, checks = run.client, run.checks
    counter, once = run.key("counter"), _key()
    await client.put(counter, 0)
    read = (await client.txn({"success": [{"op": "get", "key": counter}]})).entry(0)
    assert read is not None
    # Moves the counter from the revision it read to 1: carried out twice, the second finds
    # the compare failed and would answer succeeded=false.
    request = _increment(counter, read.revision)
    first = await client.txn(request, idempotency_key=once)
    checks.record("the transaction with a key is carried out", first.succeeded, describe(first))
    later = await client.put(counter, 10)
    _replayed(run, "a transaction", first, await attempt(client.txn(request, idempotency_key=once)))
    checks.expect_equal(
        "the replayed transaction applied nothing", later.entry, await attempt(client.get(counter))
    )
    other = _increment(counter, later.entry.revision)
    reused = await attempt(client.txn(other, idempotency_key=once))
    checks.expect_error(
        "a transaction's key on another one is refused", IdempotencyKeyReused, reused
    )


def _increment(key: str, revision: int) -> dict[str, Any]:
    return {
        "compare": [{"key": key, "revision": revision}],
        "success": [{"op": "put", "key": key, "value": 1}, {"op": "get", "key": key}],
        "failure": [{"op": "get", "key": key}],
    }
