"""missing_key: keys never written are not found, even next to a key that exists."""

from __future__ import annotations

from testclient.checks import attempt, describe
from testclient.client import KVEntry, NotFound, PreconditionFailed
from testclient.scenarios.context import ScenarioContext


async def missing_key(run: ScenarioContext) -> None:
    client, checks = run.client, run.checks
    missing = run.key("never-written")

    checks.expect_error("read of a never-written key", NotFound, await attempt(client.get(missing)))
    checks.expect_error(
        "delete of a never-written key", NotFound, await attempt(client.delete(missing))
    )
    checks.expect_error(
        "put with an expected revision on a never-written key",
        PreconditionFailed,
        await attempt(client.put(missing, "should not exist", expected_revision=1)),
    )
    checks.expect_error(
        "the key is still not found after those", NotFound, await attempt(client.get(missing))
    )

    # Keys that differ from a stored one by a character, a prefix or a case:
    # a store that matches prefixes or folds case would answer with its entry.
    stored = run.key("stored-key")
    await client.put(stored, "here")
    near_misses = {
        "a prefix of the key": run.key("stored-ke"),
        "the key plus a character": run.key("stored-keyX"),
        "the key as a parent path": run.key("stored-key/child"),
        "the key in upper case": run.key("STORED-KEY"),
    }
    for label, near in near_misses.items():
        checks.expect_error(f"read of {label}", NotFound, await attempt(client.get(near)))
    found = await attempt(client.get(stored))
    checks.record(
        "the stored key itself is found",
        isinstance(found, KVEntry) and found.value == "here",
        f"observed {describe(found)}",
    )
