"""Transactions over every transport, through its KVClient (`POST /v1/txn`, gRPC Txn, KV.TXN).

The same request and the same answer on each: the branch the compares pick,
one result per op in the HTTP API's shape, one revision for every write,
400 (Rejected) and 413 (Rejected) for what the API refuses.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from testclient.client import KVClient, Rejected
from tests.inprocess import TRANSPORT_NAMES, Served, serve_in_process


@pytest.fixture(params=TRANSPORT_NAMES)
async def served(request: pytest.FixtureRequest) -> AsyncIterator[Served]:
    async with serve_in_process(request.param, max_value_bytes=4096) as served:
        yield served


@pytest.fixture
def kv(served: Served) -> KVClient:
    return served.client


def unique() -> str:
    return f"t-{uuid.uuid4().hex[:12]}/"


async def test_a_transaction_answers_one_result_per_op(kv: KVClient) -> None:
    base = unique()
    gone = await kv.put(base + "gone", 0)
    result = await kv.txn(
        {
            "compare": [{"key": base + "a", "revision": 0}, {"key": base + "gone", "exists": True}],
            "success": [
                {"op": "put", "key": base + "a", "value": {"n": [1, None]}},
                {"op": "put", "key": base + "b", "value": "x", "ttl": 60},
                {"op": "get", "key": base + "a"},
                {"op": "get", "key": base + "none"},
                {"op": "delete", "key": base + "gone"},
                {"op": "delete", "key": base + "none"},
            ],
            "failure": [{"op": "get", "key": base + "a"}],
        }
    )
    assert result.succeeded
    assert result.revision > gone.entry.revision
    revision = result.revision
    assert result.results[:2] == (
        {"key": base + "a", "revision": revision, "created": True},
        {"key": base + "b", "revision": revision, "created": True},
    )
    assert result.results[2] == {"key": base + "a", "value": {"n": [1, None]}, "revision": revision}
    assert result.entry(2) is not None
    assert result.results[3] == {"key": base + "none", "found": False}
    assert result.entry(3) is None
    assert result.results[4:] == (
        {"key": base + "gone", "deleted": True},
        {"key": base + "none", "deleted": False},
    )
    assert (await kv.get(base + "b")).ttl is not None


async def test_compares_that_fail_run_the_failure_branch(kv: KVClient) -> None:
    base = unique()
    stored = await kv.put(base + "k", 5)
    result = await kv.txn(
        {
            "compare": [{"key": base + "k", "value": 6}],
            "success": [{"op": "put", "key": base + "k", "value": 7}],
            "failure": [
                {"op": "get", "key": base + "k"},
                {"op": "put", "key": base + "k", "value": 5},
            ],
        }
    )
    assert not result.succeeded
    revision = stored.entry.revision
    assert result.results == (
        {"key": base + "k", "value": 5, "revision": revision},
        {"key": base + "k", "revision": revision, "created": False},
    )
    assert result.revision >= revision  # nothing changed: no new revision
    assert (await kv.get(base + "k")).revision == revision


@pytest.mark.parametrize(
    "request_",
    [
        {"success": [{"op": "put", "key": "a", "value": 1}, {"op": "put", "key": "a", "value": 2}]},
        {"compare": [{"key": "a", "exists": True}] * 129},
        {"success": [{"op": "get", "key": "a"}] * 129},
        {"success": [{"op": "nothing", "key": "a"}]},
        {
            "success": [
                {"op": "put", "key": "a", "value": "x" * 3000},
                {"op": "put", "key": "b", "value": "y" * 3000},
            ]
        },
    ],
)
async def test_what_the_api_refuses_is_rejected(kv: KVClient, request_: dict[str, object]) -> None:
    with pytest.raises(Rejected):
        await kv.txn(request_)
