"""overwrite: the most recently set value is the one served, also under concurrent writers."""

from __future__ import annotations

from testclient.checks import attempt
from testclient.client import KVEntry, Written
from testclient.scenarios.context import ScenarioContext

SEQUENCE = ["first", "second", {"third": [3]}, [4, "four"], "fifth and last"]

# Concurrent writers race on one key per round over several connections; a
# store that applies writes out of revision order loses most rounds, and
# several rounds make it very unlikely to pass by luck.
ROUNDS = 3
WRITERS = 16
CONNECTIONS = 4


async def overwrite(run: ScenarioContext) -> None:
    await _sequential_overwrites(run)
    for round_number in range(1, ROUNDS + 1):
        await _concurrent_writers(run, round_number)


async def _sequential_overwrites(run: ScenarioContext) -> None:
    client, checks = run.client, run.checks
    key = run.key("overwritten")
    revisions: list[int] = []
    last: Written | None = None
    for number, value in enumerate(SEQUENCE, 1):
        last = await client.put(key, value)
        checks.expect_equal(f"write {number} created the key", number == 1, last.created)
        read = await attempt(client.get(key))
        checks.expect_equal(f"read back after write {number}", last.entry, read)
        if isinstance(read, KVEntry):
            revisions.append(read.revision)
    checks.record(
        "revisions read back strictly increase",
        len(revisions) == len(SEQUENCE) and revisions == sorted(set(revisions)),
        f"observed revisions {revisions}",
    )
    assert last is not None
    async with run.fresh_client() as fresh:
        checks.expect_equal(
            "the last write wins, on a fresh connection", last.entry, await attempt(fresh.get(key))
        )
    again = await attempt(client.put(key, SEQUENCE[-1]))
    checks.expect_equal(
        "a put of the stored value keeps the revision", Written(last.entry, False), again
    )
    checks.expect_equal(
        "read after that put is unchanged", last.entry, await attempt(client.get(key))
    )


async def _concurrent_writers(run: ScenarioContext, round_number: int) -> None:
    checks = run.checks
    key = run.key(f"contended-{round_number}")
    outcomes = await run.race(
        lambda client, writer: client.put(key, {"writer": writer}), WRITERS, CONNECTIONS
    )
    writes = [outcome.entry for outcome in outcomes if isinstance(outcome, Written)]
    label = f"round {round_number} of {WRITERS} concurrent writers"
    revisions = sorted(entry.revision for entry in writes)
    checks.record(
        f"{label}: every write succeeded with its own revision",
        len(writes) == WRITERS and len(set(revisions)) == WRITERS,
        f"{len(writes)} succeeded, revisions {revisions}",
    )
    if not writes:
        return
    winner = max(writes, key=lambda entry: entry.revision)
    checks.expect_equal(
        f"{label}: the highest revision is served", winner, await attempt(run.client.get(key))
    )
    async with run.fresh_client() as fresh:
        checks.expect_equal(
            f"{label}: the highest revision is served on a fresh connection",
            winner,
            await attempt(fresh.get(key)),
        )
