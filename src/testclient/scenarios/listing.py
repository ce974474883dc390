"""listing: pages over a prefix list each present key exactly once, in order, and nothing else.

The run writes STABLE_KEYS keys of its own under one prefix, then reads the
prefix page by page while another connection keeps creating and deleting
"churn" keys interleaved with them (so page boundaries fall next to keys that
come and go, where a listing that counts positions instead of keys skips or
repeats one). Every stable key must appear exactly once, no key twice, in
UTF-8 byte order, and no key outside the prefix, whose neighbours in key
order are written too. Once the churn has stopped, a keys-only listing and a
narrower prefix must give exactly the keys present; bad limits and cursors
must be rejected.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from itertools import pairwise
from typing import Any

from testclient.checks import attempt, describe, same
from testclient.client import KVClient, KVEntry, KVPage, Rejected
from testclient.scenarios.bulk import delete_all, write_all
from testclient.scenarios.context import ScenarioContext

STABLE_KEYS = 2000
CHURN_EVERY = 10  # a churn key after every tenth stable key
PAGE_LIMIT = 50
CHURN_OPERATIONS = 3000  # the churn stops at this many writes, or when the listing ends
# Keys whose UTF-8 byte order differs from other orders (case, UTF-16 code
# units, accents): a listing sorted any other way puts them elsewhere.
ODD_SUFFIXES = ("Z", "a", "z", "é", "\uff01", "🔑", "🔑/x", "~")
SHOWN = 8  # keys named in a failed check's detail


async def listing(run: ScenarioContext) -> None:
    client = run.client
    prefix = run.key("items/")  # itself a key of the listing: a key equal to the prefix is in it
    # Keys just outside the prefix, next to it in byte order on both sides.
    outside = [run.key(suffix) for suffix in ("items", "items.", "items0", "itemr/", "itemt/")]
    stable: dict[str, Any] = {prefix: "the prefix itself"}
    stable.update({f"{prefix}{n:05d}": {"n": n} for n in range(STABLE_KEYS)})
    stable.update({prefix + suffix: suffix for suffix in ODD_SUFFIXES})
    churn = [f"{prefix}{n:05d}+" for n in range(0, STABLE_KEYS, CHURN_EVERY)]
    try:
        written = await write_all(run, list(stable.items()) + [(k, "outside") for k in outside])
        present: set[str] = set()
        async with run.fresh_client() as churner:
            stop = asyncio.Event()
            churning = asyncio.create_task(_churn(churner, churn, present, stop))
            try:
                pages = await _pages(client, prefix, PAGE_LIMIT)
            finally:
                stop.set()
                await churning
        _check_pages(run, pages, prefix, stable, written, outside)
        await _check_settled(run, client, prefix, set(stable) | present)
        await _check_bad_requests(run, client, prefix, pages)
    finally:
        await delete_all(run, churn + list(stable))


async def _churn(client: KVClient, keys: list[str], present: set[str], stop: asyncio.Event) -> None:
    """Create and delete `keys` in turn until `stop` is set or CHURN_OPERATIONS are done;
    `present` is left holding the keys that exist at the end."""
    for operation in range(CHURN_OPERATIONS):
        if stop.is_set():
            return
        key = keys[operation % len(keys)]
        if key in present:
            await client.delete(key)
            present.discard(key)
        else:
            await client.put(key, {"churn": operation})
            present.add(key)


async def _pages(client: KVClient, prefix: str, limit: int, **options: Any) -> list[KVPage]:
    """Every page of `prefix`, following next_cursor, up to a bound that a correct listing
    of the run's keys never reaches (a cursor that loops would otherwise never end)."""
    pages = [await client.list(prefix, limit=limit, **options)]
    bound = 3 * (STABLE_KEYS + len(ODD_SUFFIXES)) // limit + 10
    while pages[-1].next_cursor is not None and len(pages) < bound:
        pages.append(
            await client.list(prefix, limit=limit, cursor=pages[-1].next_cursor, **options)
        )
    return pages


def _keys(pages: list[KVPage]) -> list[str]:
    return [entry.key for page in pages for entry in page.entries]


def _shown(keys: list[str] | set[str]) -> str:
    if not keys:
        return "none"
    listed = sorted(keys)
    more = f" and {len(listed) - SHOWN} more" if len(listed) > SHOWN else ""
    return ", ".join(describe(key) for key in listed[:SHOWN]) + more


def _check_pages(
    run: ScenarioContext,
    pages: list[KVPage],
    prefix: str,
    stable: dict[str, Any],
    written: dict[str, KVEntry],
    outside: list[str],
) -> None:
    checks = run.checks
    keys = _keys(pages)
    counts = Counter(keys)
    checks.record(
        "the listing ends (a page without next_cursor)",
        pages[-1].next_cursor is None,
        f"{len(pages)} pages read; the last has next_cursor {describe(pages[-1].next_cursor)}",
    )
    missing = set(stable) - set(counts)
    checks.record(
        f"each of the {len(stable)} keys not written during the listing is listed",
        not missing,
        f"{len(missing)} missing: {_shown(missing)}" if missing else "all listed",
    )
    repeated = {key for key, count in counts.items() if count > 1}
    checks.record(
        "no key is listed twice (churned keys included)",
        not repeated,
        f"{len(repeated)} repeated: {_shown(repeated)}" if repeated else f"{len(keys)} keys listed",
    )
    encoded = [key.encode() for key in keys]
    disorder = [(a, b) for a, b in pairwise(encoded) if a >= b]
    checks.record(
        "keys are listed in ascending UTF-8 byte order across pages",
        not disorder,
        f"{describe(disorder[0][0].decode())} before {describe(disorder[0][1].decode())}"
        if disorder
        else f"{len(keys)} keys in order",
    )
    strays = {key for key in keys if not key.startswith(prefix)}
    checks.record(
        "every listed key starts with the prefix (its neighbours outside it are not listed)",
        not strays and not set(outside) & set(keys),
        f"listed outside {describe(prefix)}: {_shown(strays)}" if strays else "none outside",
    )
    sizes = [len(page.entries) for page in pages]
    checks.record(
        f"no page holds more than limit={PAGE_LIMIT} entries",
        max(sizes) <= PAGE_LIMIT,
        f"page sizes {sizes[:SHOWN]}{'...' if len(sizes) > SHOWN else ''}, largest {max(sizes)}",
    )
    listed = {entry.key: entry for page in pages for entry in page.entries}
    wrong = {key for key in stable if key in listed and not same(written.get(key), listed[key])}
    checks.record(
        "listed entries carry the value and revision written",
        not wrong,
        f"{len(wrong)} differ, e.g. {describe(listed[min(wrong)])}, written as "
        f"{describe(written.get(min(wrong)))}"
        if wrong
        else "all as written",
    )
    behind = [p.revision for p in pages if any(e.revision > p.revision for e in p.entries)]
    revisions = [page.revision for page in pages]
    checks.record(
        "each page's revision is at least that of its entries, and never goes back",
        not behind and revisions == sorted(revisions),
        f"page revisions {revisions[:SHOWN]}{'...' if len(revisions) > SHOWN else ''}",
    )


async def _check_settled(
    run: ScenarioContext, client: KVClient, prefix: str, expected: set[str]
) -> None:
    """Once nothing is written any more, listings give exactly the keys present."""
    checks = run.checks
    keys_only = await _pages(client, prefix, 1000, keys_only=True)
    listed = _keys(keys_only)
    twice = {key for key, count in Counter(listed).items() if count > 1}
    checks.record(
        "keys_only (limit=1000) lists exactly the keys present, once each",
        sorted(listed) == sorted(expected),
        f"{len(listed)} listed, {len(expected)} present; missing: {_shown(expected - set(listed))}"
        f"; not present: {_shown(set(listed) - expected)}; twice: {_shown(twice)}",
    )
    narrow = f"{prefix}0001"
    narrowed = _keys(await _pages(client, narrow, 7))
    wanted = sorted(key for key in expected if key.startswith(narrow))
    checks.expect_equal(f"a narrower prefix {describe(narrow)} lists its keys", wanted, narrowed)
    empty = await attempt(client.list(prefix + "nothing-here/"))
    checks.record(
        "a prefix with no keys gives one empty last page",
        isinstance(empty, KVPage) and not empty.entries and empty.next_cursor is None,
        f"observed {describe(empty) if not isinstance(empty, KVPage) else empty}",
    )


async def _check_bad_requests(
    run: ScenarioContext, client: KVClient, prefix: str, pages: list[KVPage]
) -> None:
    checks = run.checks
    for limit in (0, 1001):
        checks.expect_error(
            f"limit={limit} is rejected", Rejected, await attempt(client.list(prefix, limit=limit))
        )
    checks.expect_error(
        "a cursor the service did not make is rejected",
        Rejected,
        await attempt(client.list(prefix, cursor="not-a-cursor")),
    )
    cursor = pages[0].next_cursor
    if cursor is not None:
        checks.expect_error(
            "a cursor of another prefix is rejected",
            Rejected,
            await attempt(client.list(prefix + "0", cursor=cursor)),
        )
