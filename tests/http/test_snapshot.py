"""`GET /v1/snapshot`: JSON lines of every live entry at one revision, in bounded memory."""

from __future__ import annotations

import asyncio
import json
import random
import tracemalloc
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import jsonschema_rs
import pytest
from aiohttp.test_utils import TestClient

from kv.adapters.memory import InMemoryStore
from kv.adapters.sqlite import SqliteStore
from kv.domain import KeyNotFound, Write
from kv.transports.http.limits import ANSWERS
from kv.transports.http.snapshot import PIECE_BYTES
from tests.fakes import PagesFail
from tests.http.conftest import MakeClient
from tests.store_writes import put

Client = TestClient  # type: ignore[type-arg]


async def lines(client: Client, url: str = "/v1/snapshot") -> list[dict[str, Any]]:
    response = await client.get(url)
    assert response.status == 200
    assert response.content_type == "application/x-ndjson"
    body = await response.read()
    assert body.endswith(b"\n")
    return [json.loads(line) for line in body.split(b"\n")[:-1]]


async def test_an_empty_store_is_a_header_and_an_end(client: Client) -> None:
    assert await lines(client) == [
        {"snapshot": 1, "revision": 0, "entries": 0},
        {"end": True, "entries": 0},
    ]


async def test_every_entry_in_key_order_with_its_revision_and_ttl(client: Client) -> None:
    written = {}
    for key, value in (("b", [1, {"x": None}]), ("a/é", "text"), ("a\nb", 2.5), ("c", True)):
        response = await client.put(f"/v1/kv/{quote(key, safe='')}", json={"value": value})
        written[key] = (value, (await response.json())["revision"])
    response = await client.put("/v1/kv/expiring", json={"value": 0, "ttl": 100})
    expiring = (await response.json())["revision"]
    got = await lines(client)
    assert got[0] == {"snapshot": 1, "revision": expiring, "entries": 5}
    assert got[-1] == {"end": True, "entries": 5}
    entries = got[1:-1]
    assert [e["key"] for e in entries] == sorted([*written, "expiring"], key=str.encode)
    for entry in entries:
        if entry["key"] == "expiring":
            assert entry == {"key": "expiring", "value": 0, "revision": expiring, "ttl": 100}
        else:
            value, revision = written[entry["key"]]
            assert entry == {"key": entry["key"], "value": value, "revision": revision}


async def test_lines_fit_the_documented_schema(client: Client) -> None:
    await client.put("/v1/kv/k", json={"value": {"a": [1]}, "ttl": 50})
    document = await (await client.get("/openapi.json")).json()
    operation = document["paths"]["/v1/snapshot"]["get"]["responses"]
    schema = {
        **operation["200"]["content"]["application/x-ndjson"]["schema"],
        "components": document["components"],
    }
    for line in await lines(client):
        jsonschema_rs.validate(schema, line)
    with pytest.raises(jsonschema_rs.ValidationError):
        jsonschema_rs.validate(schema, {"end": True})


async def test_a_query_parameter_or_head_is_refused(client: Client) -> None:
    refused = await client.get("/v1/snapshot?prefix=a")
    assert refused.status == 400
    assert (await refused.json())["error"]["code"] == "invalid_request"
    assert (await client.head("/v1/snapshot")).status == 405


async def test_a_failure_midway_ends_the_stream_without_its_end_line(
    make_client: MakeClient,
) -> None:
    store = PagesFail()
    await store.write(put("k", 1))
    client = await make_client(store)
    response = await client.get("/v1/snapshot")
    assert response.status == 200
    with pytest.raises(aiohttp.ClientPayloadError):
        await response.read()


async def test_a_store_that_takes_no_snapshot_is_unavailable(make_client: MakeClient) -> None:
    class NoSnapshots:
        def __init__(self) -> None:
            self._store = InMemoryStore()

        def __getattr__(self, name: str) -> Any:
            if name == "snapshot":
                raise AttributeError(name)
            return getattr(self._store, name)

    client = await make_client(NoSnapshots())
    response = await client.get("/v1/snapshot")
    assert response.status == 503


async def test_writes_made_while_it_streams_do_not_show(make_client: MakeClient) -> None:
    store = InMemoryStore()
    for n in range(5000):
        await store.write(put(f"k{n:05}", n))
    client = await make_client(store)
    async with client.get("/v1/snapshot") as response:
        header = json.loads(await response.content.readline())
        await store.write(put("k00000", "changed"))
        await store.write(Write.delete("k04999"))
        await store.write(put("new", 1))
        rest = [json.loads(line) for line in (await response.read()).splitlines()]
    assert header["entries"] == 5000
    assert rest[-1] == {"end": True, "entries": 5000}
    assert [e["value"] for e in rest[:-1]] == list(range(5000))


async def _snapshot_allocation_peak(make_client: MakeClient, keys: int) -> int:
    """Bytes allocated at the peak of a snapshot of `keys` entries, beyond what the store holds."""
    store = InMemoryStore()
    for n in range(keys):
        await store.write(put(f"key/{n:08}", {"n": n, "text": "x" * 100}))
    client = await make_client(store)
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        received = 0
        async with client.get("/v1/snapshot") as response:
            async for chunk in response.content.iter_chunked(16 * 1024):
                received += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert received > keys * 100
    return peak - before


async def test_memory_does_not_grow_with_the_number_of_keys(make_client: MakeClient) -> None:
    """A snapshot 4 times as large allocates about as much at its peak: its lines are written
    a piece at a time, not gathered (gathered, they grow with the keys)."""
    small = await _snapshot_allocation_peak(make_client, 20_000)
    large = await _snapshot_allocation_peak(make_client, 80_000)
    assert large < small + 1024 * 1024, (small, large)
    assert large < 4 * 1024 * 1024, (small, large)


async def test_a_snapshot_read_slowly_during_writes_is_the_state_at_its_revision(
    make_client: MakeClient, tmp_path: Path
) -> None:
    """Over a durable store: the writers' log, replayed up to the snapshot's revision, gives
    exactly the entries streamed, though the writes went on while the stream was read."""
    store = SqliteStore(tmp_path / "data")
    client = await make_client(store)
    log: dict[int, tuple[str, Any]] = {}
    # A stream far larger than the sockets' buffers: the server must wait for the reader.
    padding = "p" * 10_000
    for first in range(0, 3000, 500):  # concurrent writes share a sync
        batch = [(f"k{n:04}", [n, padding]) for n in range(first, first + 500)]
        written = await asyncio.gather(*(store.write(put(k, v)) for k, v in batch))
        log.update((w.revision, item) for w, item in zip(written, batch, strict=True))
    stop = asyncio.Event()

    async def writer(number: int) -> None:
        chance = random.Random(number)
        while not stop.is_set():
            key = f"k{chance.randrange(3200):04}"
            if chance.random() < 0.3:
                try:
                    written = await store.write(Write.delete(key))
                except KeyNotFound:
                    continue
                log[written.revision] = (key, None)
            else:
                written = await store.write(put(key, [number, "new"]))
                log[written.revision] = (key, [number, "new"])

    writers = [asyncio.create_task(writer(n)) for n in range(4)]
    chunks: list[bytes] = []
    try:
        async with client.get("/v1/snapshot") as response:
            while chunk := await response.content.read(65536):
                chunks.append(chunk)
                await asyncio.sleep(0.001)
    finally:
        stop.set()
        await asyncio.gather(*writers)
    got = [json.loads(line) for line in b"".join(chunks).splitlines()]
    revision = got[0]["revision"]
    assert max(log) > revision, "nothing was written while the snapshot streamed"
    state: dict[str, tuple[Any, int]] = {}
    for written_at in sorted(log):
        if written_at > revision:
            break
        key, value = log[written_at]
        if value is None:
            state.pop(key, None)
        else:
            state[key] = (value, written_at)
    entries = got[1:-1]
    assert {e["key"]: (e["value"], e["revision"]) for e in entries} == state
    assert got[0]["entries"] == got[-1]["entries"] == len(state)


async def test_its_pieces_are_held_in_the_answer_budget_and_a_full_one_refuses_it(
    client: Client,
) -> None:
    for n in range(2000):
        await client.put(f"/v1/kv/k{n:04}", json={"value": "x" * 100})
    answers = client.app[ANSWERS]
    answers.hold(answers.limit)
    refused = await client.get("/v1/snapshot")
    assert refused.status == 503
    assert (await refused.json())["error"]["code"] == "unavailable"
    answers.give_back(answers.limit)
    answers.peak = 0
    assert len(await lines(client)) == 2002
    assert answers.held == 0
    assert answers.peak >= PIECE_BYTES
