"""create_conflict: create-only writes never replace, and one of many racing creates wins."""

from __future__ import annotations

from testclient.checks import attempt, describe
from testclient.client import AlreadyExists, KVEntry, NotFound
from testclient.scenarios.context import ScenarioContext

CREATORS = 8
CONNECTIONS = 4


async def create_conflict(run: ScenarioContext) -> None:
    client, checks = run.client, run.checks
    key = run.key("created-once")

    original = await client.create(key, "original")
    checks.expect_equal("create returns the new value", "original", original.value)
    checks.expect_error(
        "a second create of the key", AlreadyExists, await attempt(client.create(key, "usurper"))
    )
    checks.expect_equal("the original entry is kept", original, await attempt(client.get(key)))

    contested = run.key("contested")
    outcomes = await run.race(
        lambda racer, n: racer.create(contested, {"creator": n}), CREATORS, CONNECTIONS
    )
    winners = [outcome for outcome in outcomes if isinstance(outcome, KVEntry)]
    losers = [outcome for outcome in outcomes if isinstance(outcome, AlreadyExists)]
    checks.record(
        f"exactly one of {CREATORS} concurrent creates wins, the others are AlreadyExists",
        len(winners) == 1 and len(losers) == CREATORS - 1,
        f"{len(winners)} won ({', '.join(describe(entry) for entry in winners)}), "
        f"{len(losers)} AlreadyExists",
    )
    if len(winners) == 1:
        checks.expect_equal(
            "the winner's entry is served", winners[0], await attempt(client.get(contested))
        )

    await client.delete(key)
    checks.expect_error("read after delete", NotFound, await attempt(client.get(key)))
    again = await attempt(client.create(key, "created after the delete"))
    checks.record(
        "create succeeds again once the key is deleted",
        isinstance(again, KVEntry) and again.value == "created after the delete",
        f"observed {describe(again)}",
    )
