"""conditional: writes with an expected revision (HTTP If-Match) apply only at that revision."""

from __future__ import annotations

from testclient.checks import attempt, describe
from testclient.client import NotFound, PreconditionFailed, Written
from testclient.scenarios.context import ScenarioContext


async def conditional(run: ScenarioContext) -> None:
    client, checks = run.client, run.checks
    key = run.key("guarded")

    first = (await client.put(key, "v1")).entry
    second = await attempt(client.put(key, "v2", expected_revision=first.revision))
    if not checks.record(
        "put at the current revision replaces the value",
        isinstance(second, Written)
        and second.entry.value == "v2"
        and second.entry.revision > first.revision,
        f"expected v2 at a revision above {first.revision}, observed {describe(second)}",
    ):
        return
    assert isinstance(second, Written)
    current = second.entry
    checks.expect_equal("read shows the conditional put", current, await attempt(client.get(key)))

    stale = await attempt(client.put(key, "stale", expected_revision=first.revision))
    checks.expect_error("put at a stale revision", PreconditionFailed, stale)
    checks.expect_error(
        "delete at a stale revision",
        PreconditionFailed,
        await attempt(client.delete(key, expected_revision=first.revision)),
    )
    checks.expect_equal(
        "stale put and delete changed nothing", current, await attempt(client.get(key))
    )

    checks.expect_equal(
        "delete at the current revision returns the entry",
        current,
        await attempt(client.delete(key, expected_revision=current.revision)),
    )
    checks.expect_error(
        "read after the conditional delete", NotFound, await attempt(client.get(key))
    )
    checks.expect_error(
        "put with an expected revision on a missing key",
        PreconditionFailed,
        await attempt(client.put(key, "resurrected", expected_revision=current.revision)),
    )
    checks.expect_error("that put created nothing", NotFound, await attempt(client.get(key)))
