"""deletion: a deleted key is gone, stays gone, takes nothing else with it, and can come back."""

from __future__ import annotations

import asyncio

from testclient.checks import attempt, describe
from testclient.client import NotFound
from testclient.scenarios.context import ScenarioContext

REREADS = 5
REREAD_PAUSE_SECONDS = 0.02


async def deletion(run: ScenarioContext) -> None:
    client, checks = run.client, run.checks
    key, neighbour, later = run.key("deleted"), run.key("neighbour"), run.key("written-later")

    written = (await client.put(key, {"state": "before delete", "n": 1})).entry
    checks.expect_equal("read back before the delete", written, await attempt(client.get(key)))
    kept = (await client.put(neighbour, "the neighbour, written by the same run")).entry

    checks.expect_equal(
        "delete returns the deleted entry", written, await attempt(client.delete(key))
    )
    checks.expect_error("read after the delete", NotFound, await attempt(client.get(key)))
    checks.expect_error("second delete of the key", NotFound, await attempt(client.delete(key)))

    # A store may lose a delete later: when a later write replays an older
    # state, or a cache expires. Write, wait a little, read again several times.
    await client.put(later, "written after the delete")
    rereads = []
    for _ in range(REREADS):
        await asyncio.sleep(REREAD_PAUSE_SECONDS)
        rereads.append(await attempt(client.get(key)))
    checks.expect_errors(f"{REREADS} reads after later writes stay not-found", NotFound, rereads)
    async with run.fresh_client() as fresh:
        checks.expect_error("read on a fresh connection", NotFound, await attempt(fresh.get(key)))

    checks.expect_equal("neighbouring key untouched", kept, await attempt(client.get(neighbour)))

    recreated = await attempt(client.create(key, "created again"))
    checks.record(
        "the key can be created again, at a higher revision",
        not isinstance(recreated, Exception)
        and recreated.value == "created again"
        and recreated.revision > written.revision,
        f"deleted at revision {written.revision}, create gave {describe(recreated)}",
    )
