"""Every scenario passes against the real service and fails against the breakage it claims to catch.

A scenario that cannot fail proves nothing: the table below names, for each
store broken on purpose, the scenarios that must report failure against it,
and every scenario appears in it at least once. (`replicas` is also proven
against two servers that do not share a store: test_replicas.py.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from kv.adapters.memory import InMemoryStore
from kv.domain import Store
from testclient.runner import ScenarioResult, run_scenario, run_scenarios
from testclient.scenarios import SCENARIOS
from tests.inprocess import IDEMPOTENCY_TRANSPORTS, WATCH_TRANSPORTS
from tests.testclient import broken_stores as broken
from tests.testclient.conftest import ServeStore

# breakage -> (the broken store, the scenarios that must fail against it)
MUST_FAIL: dict[str, tuple[Callable[[], Store], set[str]]] = {
    "delete removes nothing": (broken.DeleteRemovesNothing, {"deletion"}),
    "reads keep serving a deleted value": (broken.ServesDeletedValues, {"deletion"}),
    "delete removes other keys too": (broken.DeleteRemovesNeighbours, {"deletion"}),
    "a deleted key comes back later": (broken.ResurrectsDeleted, {"deletion"}),
    "overwrite keeps the old value": (
        broken.OverwriteKeepsOld,
        {"overwrite", "conditional", "replicas"},
    ),
    "reads one write behind": (
        broken.ReadsOneWriteBehind,
        {"deletion", "overwrite", "create_conflict", "conditional", "replicas", "linearizability"},
    ),
    "reads served from a lagging copy": (broken.ReadsFromLaggingCopy, {"linearizability"}),
    "writes acknowledged before reads see them": (
        broken.AcknowledgesBeforeApplying,
        {"linearizability"},
    ),
    "a replace keeps the old revision": (
        broken.ReplaceKeepsRevision,
        {"overwrite", "conditional"},
    ),
    "concurrent writes applied out of revision order": (
        broken.AppliesConcurrentWritesOutOfOrder,
        {"overwrite"},
    ),
    "null object members dropped": (broken.DropsNullMembers, {"value_types"}),
    "keys truncated to 255 characters": (broken.TruncatesKeys, {"key_encoding"}),
    "a missing key reads as a key it prefixes": (broken.MatchesKeyPrefixes, {"missing_key"}),
    "a listing skips the key after a page boundary": (
        broken.SkipsKeyAfterPageBoundary,
        {"listing"},
    ),
    "a listing repeats the key at a page boundary": (broken.RepeatsKeyAtPageBoundary, {"listing"}),
    "a listing finds its place by position while keys come and go": (
        broken.PagesByPositionInAStaleIndex,
        {"listing"},
    ),
    "a listing runs past the end of its prefix": (broken.ScansPastThePrefix, {"listing"}),
    "a listing sorted by UTF-16 code units": (broken.SortsByUtf16, {"listing"}),
    "entries never expire": (broken.ServesExpiredEntries, {"expiry"}),
    "listings show expired entries": (broken.ListsExpiredEntries, {"expiry"}),
    "a write without ttl keeps the old expiry": (broken.KeepsTtlAfterPlainWrite, {"expiry"}),
    "an expiry takes no revision": (broken.ExpiryTakesNoRevision, {"expiry"}),
    "the change feed drops events": (broken.WatchDropsEvents, {"watch"}),
    "the change feed hands out events out of order": (broken.WatchReordersEvents, {"watch"}),
    "a watch resumed after R repeats R": (broken.WatchResumeRepeats, {"watch"}),
    "a watch resumed after R skips the change after R": (broken.WatchResumeSkips, {"watch"}),
    "a transaction's writes applied one by one": (
        broken.AppliesTransactionWritesOneByOne,
        {"transactions"},
    ),
    "a transaction's compares ignored": (broken.IgnoresCompares, {"transactions"}),
    "idempotency keys ignored": (broken.IgnoresIdempotencyKeys, {"idempotency"}),
    "a key's answer replayed to another request": (
        broken.ReplaysForAnotherRequest,
        {"idempotency"},
    ),
    "a replay applies the write again": (broken.ReappliesWhenReplaying, {"idempotency"}),
}


def _failures(result: ScenarioResult) -> str:
    return "\n".join(f"{check.name}: {check.detail}" for check in result.failed_checks)


def _served_here(request: pytest.FixtureRequest, names: set[str]) -> set[str]:
    """`names` less what the transport under test cannot carry (RESP: watch, idempotency keys)."""
    transport = request.node.callspec.params.get("serve_store")
    if transport not in WATCH_TRANSPORTS:
        names = names - {"watch"}
    if transport not in IDEMPOTENCY_TRANSPORTS:
        names = names - {"idempotency"}
    return names


@pytest.mark.parametrize("name", sorted(SCENARIOS))
async def test_scenario_passes_against_the_real_service(
    serve_store: ServeStore, name: str, request: pytest.FixtureRequest
) -> None:
    if not _served_here(request, {name}):
        pytest.skip("the RESP API has no watch and no idempotency key")
    connect = await serve_store(InMemoryStore())
    result = await run_scenario(name, connect)
    assert result.success, _failures(result)
    assert result.error is None
    assert len(result.checks) >= 3


@pytest.mark.parametrize("breakage", MUST_FAIL)
async def test_scenarios_fail_against_a_broken_store(
    serve_store: ServeStore, breakage: str, request: pytest.FixtureRequest
) -> None:
    make_store, must_fail = MUST_FAIL[breakage]
    must_fail = _served_here(request, must_fail)
    if not must_fail:
        pytest.skip("the RESP API has no watch and no idempotency key")
    connect = await serve_store(make_store())
    for name in sorted(must_fail):
        result = await run_scenario(name, connect)
        assert not result.success, f"{name} passed against a store where {breakage}"
        assert result.error is None, "a broken store is a failure, not an unreachable service"
        assert result.failed_checks


def test_every_scenario_is_shown_to_catch_something() -> None:
    caught = set().union(*(scenarios for _, scenarios in MUST_FAIL.values()))
    assert caught == set(SCENARIOS)


@pytest.mark.slow  # every scenario, end to end
async def test_runs_leave_no_keys_behind(serve_store: ServeStore) -> None:
    store = broken.DictStore()
    connect = await serve_store(store)
    results = await run_scenarios(sorted(SCENARIOS), connect)
    assert all(result.success for result in results)
    assert store.entries == {}


@pytest.mark.slow  # every scenario, end to end
async def test_overlapping_runs_do_not_disturb_each_other(serve_store: ServeStore) -> None:
    connect = await serve_store(InMemoryStore())
    first, second = await asyncio.gather(
        run_scenarios(sorted(SCENARIOS), connect), run_scenarios(sorted(SCENARIOS), connect)
    )
    assert all(result.success for result in first + second)
