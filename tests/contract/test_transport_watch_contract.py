"""Watch, the same over every transport that serves it (HTTP, gRPC; RESP has none), through
its KVClient only (as the listing contract).

Also: the watch scenario passes against the real service over a durable store.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kv.adapters.history import HistoryLimits
from kv.adapters.memory import InMemoryStore
from kv.adapters.sqlite import SqliteStore
from testclient.client import Compacted, KVClient, KVEvent, Rejected
from testclient.config import connect
from testclient.runner import run_scenario
from tests.inprocess import WATCH_TRANSPORTS, Served, serve_in_process

WAIT_SECONDS = 20.0  # generous: only a broken stream waits this long


@pytest.fixture(params=WATCH_TRANSPORTS)
async def served(request: pytest.FixtureRequest) -> AsyncIterator[Served]:
    store = InMemoryStore(history=HistoryLimits(events=8))
    async with serve_in_process(request.param, store) as served:
        yield served


def prefix() -> str:
    return f"watch-{uuid.uuid4().hex[:8]}/"


async def take(kv: KVClient, under: str, count: int, **start: int) -> list[KVEvent]:
    got: list[KVEvent] = []
    stream = kv.watch(under, **start)
    async with contextlib.aclosing(stream), asyncio.timeout(WAIT_SECONDS):
        async for event in stream:
            got.append(event)
            if len(got) == count:
                break
    return got


async def test_events_mirror_the_writes(served: Served) -> None:
    kv, under = served.client, prefix()
    a = (await kv.put(under + "a", {"n": [1, None]})).entry
    b = (await kv.put(under + "b", "x", ttl=100)).entry
    await kv.delete(under + "a")
    got = await take(kv, under, 3, from_revision=a.revision)
    assert got[0] == KVEvent("put", a.key, a.revision, {"n": [1, None]})
    assert (got[1].type, got[1].key, got[1].revision, got[1].value) == (
        "put",
        b.key,
        b.revision,
        "x",
    )
    assert got[1].ttl is not None
    assert 0 < got[1].ttl <= 100
    assert got[2] == KVEvent("delete", a.key, b.revision + 1)


async def test_a_live_watch_sees_later_writes(served: Served) -> None:
    kv, under = served.client, prefix()
    start = (await kv.put(under + "first", 0)).entry.revision
    watching = asyncio.ensure_future(take(kv, under, 2, after_revision=start))
    written = [(await kv.put(under + "k", n)).entry.revision for n in range(2)]
    assert [event.revision for event in await watching] == written


async def test_resuming_after_a_revision(served: Served) -> None:
    kv, under = served.client, prefix()
    revisions = [(await kv.put(under + "k", n)).entry.revision for n in range(3)]
    got = await take(kv, under, 2, after_revision=revisions[0])
    assert [event.revision for event in got] == revisions[1:]


async def test_a_compacted_revision_is_compacted(served: Served) -> None:
    kv, under = served.client, prefix()
    for n in range(12):
        await kv.put(under + "k", n)
    with pytest.raises(Compacted, match="oldest revision available"):
        await take(kv, under, 1, from_revision=1)


async def test_a_bad_revision_is_rejected(served: Served) -> None:
    with pytest.raises(Rejected):
        await take(served.client, "", 1, from_revision=0)


async def test_ending_watches_ends_the_stream(served: Served) -> None:
    kv = served.client
    stream = kv.watch("")
    waiting = asyncio.ensure_future(anext(stream))
    # The stream is open once the server holds a subscription; poll for it.
    for _ in range(int(WAIT_SECONDS / 0.01)):
        if served.app.service.watch_count:
            break
        await asyncio.sleep(0.01)
    served.app.service.end_watches()
    with pytest.raises(StopAsyncIteration):
        async with asyncio.timeout(WAIT_SECONDS):
            await waiting
    await stream.aclose()


@pytest.mark.parametrize("transport", WATCH_TRANSPORTS)
async def test_the_watch_scenario_passes_over_sqlite(transport: str, tmp_path: Path) -> None:
    async with serve_in_process(transport, SqliteStore(tmp_path)) as served:
        result = await run_scenario("watch", lambda: connect(served.client_settings))
    assert result.success, [check for check in result.checks if not check.passed]
