"""expiry: a key written with a ttl is served until it expires and by nothing after; a write
without a ttl clears it.

A key put with ttl=1 is read at once (with its ttl), then polled, for at most
EXPIRY_WAIT_SECONDS, until it is gone; from then on no read, listing or
condition sees it, and its removal took a revision of its own: the next write
of the key creates it at least two revisions above the expired entry (one for
the removal, one for the write), as the scenario writes nothing in between.
A second key put with ttl=1 and then again without one must still be served,
without a ttl, once that first ttl has long passed.
"""

from __future__ import annotations

import asyncio

from testclient.checks import attempt, describe, same
from testclient.client import KVEntry, KVPage, NotFound, PreconditionFailed, Rejected
from testclient.scenarios.context import ScenarioContext

TTL_SECONDS = 1
MAX_TTL_SECONDS = 31_536_000
EXPIRY_WAIT_SECONDS = 10.0  # generous: a loaded machine is slow, and the wait is polled
POLL_SECONDS = 0.05
# A read that came back after this long cannot show the entry was served before
# its ttl elapsed: the write and the read are repeated, at most READ_ATTEMPTS times.
CONCLUSIVE_SECONDS = 0.8 * TTL_SECONDS
READ_ATTEMPTS = 3
# How long after a write's answer its (replaced) ttl has surely passed on the service.
PAST_TTL_SECONDS = TTL_SECONDS + 0.5


async def expiry(run: ScenarioContext) -> None:
    await _an_entry_expires(run)
    await _a_write_without_ttl_clears_it(run)
    await _ttls_are_reported_and_bounded(run)


async def _an_entry_expires(run: ScenarioContext) -> None:
    client, checks = run.client, run.checks
    loop = asyncio.get_running_loop()
    prefix = run.key("expiring/")
    key = run.key("expiring/short-lived")
    value = {"expires in": TTL_SECONDS}
    for _ in range(READ_ATTEMPTS):
        sent = loop.time()
        written = (await client.put(key, value, ttl=TTL_SECONDS)).entry
        before = await attempt(client.get(key))
        if isinstance(before, KVEntry) or loop.time() - sent < CONCLUSIVE_SECONDS:
            break
    checks.expect_equal(f"a put with ttl={TTL_SECONDS} answers its ttl", TTL_SECONDS, written.ttl)
    checks.record(
        "the entry is served before its ttl elapses, with its ttl",
        isinstance(before, KVEntry) and same(written, before),
        f"wrote {describe(written)}, read {describe(before)}",
    )

    deadline = sent + EXPIRY_WAIT_SECONDS
    after = await attempt(client.get(key))
    while isinstance(after, KVEntry) and loop.time() < deadline:
        await asyncio.sleep(POLL_SECONDS)
        after = await attempt(client.get(key))
    checks.record(
        f"the entry is gone within {EXPIRY_WAIT_SECONDS:.0f} s of a ttl of {TTL_SECONDS} s",
        isinstance(after, NotFound),
        f"last read {loop.time() - sent:.1f} s after the write: {describe(after)}",
    )
    async with run.fresh_client() as fresh:
        checks.expect_error(
            "gone on a fresh connection too", NotFound, await attempt(fresh.get(key))
        )
    page = await attempt(client.list(prefix))
    listed = [entry.key for entry in page.entries] if isinstance(page, KVPage) else None
    checks.record(
        "an expired key is not listed",
        listed is not None and key not in listed,
        f"listing of {describe(prefix)}: {describe(listed if listed is not None else page)}",
    )
    checks.expect_error(
        "a condition on the expired entry's revision is not met",
        PreconditionFailed,
        await attempt(client.put(key, "conditional", expected_revision=written.revision)),
    )
    again = await attempt(client.put(key, "after expiry"))
    checks.record(
        "the removal took a revision: the next write creates the key 2 or more above it",
        not isinstance(again, Exception)
        and again.created
        and again.entry.revision >= written.revision + 2,
        f"expired entry at revision {written.revision}, next write {describe(again)}",
    )


async def _a_write_without_ttl_clears_it(run: ScenarioContext) -> None:
    client, checks = run.client, run.checks
    loop = asyncio.get_running_loop()
    key = run.key("ttl-cleared")
    first = (await client.put(key, "same value", ttl=TTL_SECONDS)).entry
    answered = loop.time()
    plain = (await client.put(key, "same value")).entry
    checks.record(
        "a put without ttl (of the same value) answers no ttl, at a new revision",
        plain.ttl is None and plain.revision > first.revision,
        f"with ttl {describe(first)}, then without {describe(plain)}",
    )
    now = await attempt(client.get(key))
    checks.record(
        "read at once: no ttl",
        isinstance(now, KVEntry) and now.ttl is None and same(plain, now),
        f"observed {describe(now)}",
    )
    await asyncio.sleep(max(0.0, answered + PAST_TTL_SECONDS - loop.time()))
    later = await attempt(client.get(key))
    checks.record(
        "once the cleared ttl has passed, the key is still served, without a ttl",
        isinstance(later, KVEntry) and later.ttl is None and same(plain, later),
        f"{PAST_TTL_SECONDS} s after the ttl write: {describe(later)}",
    )


async def _ttls_are_reported_and_bounded(run: ScenarioContext) -> None:
    client, checks = run.client, run.checks
    created = await attempt(client.create(run.key("created-with-ttl"), "c", ttl=100))
    checks.record(
        "a create with ttl=100 answers ttl 100",
        isinstance(created, KVEntry) and created.ttl == 100,
        f"observed {describe(created)}",
    )
    longest = await attempt(client.put(run.key("longest-ttl"), "l", ttl=MAX_TTL_SECONDS))
    checks.record(
        f"ttl={MAX_TTL_SECONDS} (365 days) is accepted",
        not isinstance(longest, Exception) and longest.entry.ttl == MAX_TTL_SECONDS,
        f"observed {describe(longest)}",
    )
    rejected = run.key("rejected-ttl")
    for ttl in (0, -1, MAX_TTL_SECONDS + 1):
        checks.expect_error(
            f"ttl={ttl} is rejected",
            Rejected,
            await attempt(client.put(rejected, "never stored", ttl=ttl)),
        )
    checks.expect_error(
        "nothing was stored by the rejected writes", NotFound, await attempt(client.get(rejected))
    )
