"""replicas: replicas of one service act as one: what one acknowledges, every other serves at once.

Replicas are named as a comma list in KV_URL (HTTP) or KV_GRPC_TARGET (gRPC).
A key is written through each replica in turn and read through every other
right after the write is acknowledged; revisions must form one increasing
sequence across replicas, a revision learnt from one replica must be the
condition another checks, and a delete through one is seen by all. With one
replica named, the same checks run over separate connections to it, and each
check's detail says so.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from itertools import pairwise

from testclient.checks import attempt, describe, same
from testclient.client import (
    AlreadyExists,
    KVClient,
    KVEntry,
    NotFound,
    PreconditionFailed,
    Written,
)
from testclient.scenarios.context import ScenarioContext

ONE_REPLICA_NOTE = (
    " (only one replica is named, so 'replica 2' is a second connection to it; name two or"
    " more in KV_URL or KV_GRPC_TARGET, comma-separated, to check replicas against each other)"
)


async def replicas(run: ScenarioContext) -> None:
    sides = max(run.replica_count, 2)
    note = ONE_REPLICA_NOTE if run.replica_count == 1 else ""
    async with AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(run.replica_client(n)) for n in range(sides)]
        last = await _writes_are_read_through_every_other(run, clients, note)
        if last is not None:
            await _conditions_and_deletes_cross_replicas(run, clients, last, note)


async def _writes_are_read_through_every_other(
    run: ScenarioContext, clients: list[KVClient], note: str
) -> KVEntry | None:
    checks, key = run.checks, run.key("written-through-each")
    entries: list[KVEntry] = []
    for writer_number, writer in enumerate(clients, 1):
        written = await attempt(writer.put(key, {"written through replica": writer_number}))
        if not isinstance(written, Written):
            checks.record(
                f"write through replica {writer_number}", False, f"observed {describe(written)}"
            )
            continue
        entries.append(written.entry)
        for reader_number, reader in enumerate(clients, 1):
            if reader is not writer:
                read = await attempt(reader.get(key))
                checks.record(
                    f"write through replica {writer_number} is read at once through replica "
                    f"{reader_number}",
                    isinstance(read, KVEntry) and same(written.entry, read),
                    f"expected {describe(written.entry)}, observed {describe(read)}{note}",
                )
    revisions = [entry.revision for entry in entries]
    checks.record(
        "revisions of writes through replica 1, 2, ... in turn are one increasing sequence",
        len(entries) == len(clients) and all(a < b for a, b in pairwise(revisions)),
        f"observed revisions {revisions} from {len(clients)} writes{note}",
    )
    return entries[-1] if entries else None


async def _conditions_and_deletes_cross_replicas(
    run: ScenarioContext, clients: list[KVClient], last: KVEntry, note: str
) -> None:
    checks, key = run.checks, last.key
    first, second = clients[0], clients[1]
    guarded = await attempt(first.put(key, "conditional", expected_revision=last.revision))
    checks.record(
        f"replica 1 accepts a put at the revision replica {len(clients)} gave ({last.revision})",
        isinstance(guarded, Written) and guarded.entry.revision > last.revision,
        f"observed {describe(guarded)}{note}",
    )
    checks.expect_error(
        "replica 2 refuses a put at that revision once replica 1 moved past it",
        PreconditionFailed,
        await attempt(second.put(key, "stale", expected_revision=last.revision)),
    )
    await attempt(first.delete(key))
    for number, reader in enumerate(clients[1:], 2):
        checks.expect_error(
            f"a delete through replica 1 is seen at once through replica {number}",
            NotFound,
            await attempt(reader.get(key)),
        )
    created = await attempt(second.create(key, "created through replica 2"))
    checks.record(
        "replica 2 creates the key deleted through replica 1",
        isinstance(created, KVEntry),
        f"observed {describe(created)}{note}",
    )
    checks.expect_error(
        "replica 1 refuses to create it again: it exists",
        AlreadyExists,
        await attempt(first.create(key, "created twice")),
    )


def _same_entry(read: KVEntry, written: KVEntry) -> bool:
    return (
        read.key == written.key
        and read.revision == written.revision
        and read.value == written.value
    )
