"""`GET /v1/watch`: the Server-Sent Events format, its parameters, resume and errors, over HTTP."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from kv.adapters.history import HistoryLimits
from kv.adapters.memory import InMemoryStore
from kv.config import Settings
from kv.domain import KeyValueService
from kv.transports.http import create_app
from testclient.sse import EventStreamParser, ServerSentEvent
from tests.fakes import FakeClock

Client = TestClient  # type: ignore[type-arg]
WAIT_SECONDS = 20.0  # generous: only a broken stream waits this long


@pytest.fixture
async def served(aiohttp_client: Any) -> tuple[Client, KeyValueService]:
    service = KeyValueService(InMemoryStore(history=HistoryLimits(events=6)))
    await service.start()
    client = await aiohttp_client(create_app(service, settings=Settings(watch_heartbeat=0.2)))
    return client, service


async def put(client: Client, key: str, value: Any, **extra: Any) -> int:
    response = await client.put(f"/v1/kv/{key}", json={"value": value, **extra})
    assert response.status in (200, 201)
    return int((await response.json())["revision"])


async def events(
    response: Any, count: int, *, comments: list[bytes] | None = None
) -> list[ServerSentEvent]:
    """The next `count` events of an open stream (its comment lines into `comments`)."""
    parser = EventStreamParser()
    found: list[ServerSentEvent] = []
    async with asyncio.timeout(WAIT_SECONDS):
        while len(found) < count:
            chunk = await response.content.readany()
            assert chunk, "the stream ended"
            if comments is not None:
                comments += [line for line in chunk.split(b"\n") if line.startswith(b":")]
            found += parser.feed(chunk)
    return found


async def test_events_carry_revision_type_and_entry(served: tuple[Client, Any]) -> None:
    client, _ = served
    first = await put(client, "w/a", {"x": [1, "é"]})
    second = await put(client, "w/b", "two", ttl=100)
    await put(client, "other", 0)
    deleted = await client.delete("/v1/kv/w/a")
    assert deleted.status == 200
    async with client.get(f"/v1/watch?prefix=w%2F&from_revision={first}") as response:
        assert response.status == 200
        assert response.content_type == "text/event-stream"
        assert response.headers["Cache-Control"] == "no-cache"
        got = await events(response, 3)
    assert [(e.id, e.event) for e in got] == [
        (str(first), "put"),
        (str(second), "put"),
        (str(second + 2), "delete"),
    ]
    assert json.loads(got[0].data) == {"key": "w/a", "value": {"x": [1, "é"]}, "revision": first}
    assert json.loads(got[1].data) == {"key": "w/b", "value": "two", "revision": second, "ttl": 100}
    assert json.loads(got[2].data) == {"key": "w/a", "revision": second + 2}


async def test_without_from_revision_only_later_changes(served: tuple[Client, Any]) -> None:
    client, _ = served
    await put(client, "k", 1)
    async with client.get("/v1/watch") as response:
        later = await put(client, "k", 2)
        (event,) = await events(response, 1)
    assert event.id == str(later)


async def test_last_event_id_resumes_after_it_and_wins_over_from_revision(
    served: tuple[Client, Any],
) -> None:
    client, _ = served
    revisions = [await put(client, "k", n) for n in range(4)]
    headers = {"Last-Event-ID": str(revisions[1])}
    async with client.get(f"/v1/watch?from_revision={revisions[0]}", headers=headers) as response:
        got = await events(response, 2)
    assert [int(e.id or 0) for e in got] == revisions[2:]


async def test_idle_streams_get_heartbeat_comments(served: tuple[Client, Any]) -> None:
    client, _ = served
    comments: list[bytes] = []
    async with client.get("/v1/watch") as response:
        async with asyncio.timeout(WAIT_SECONDS):
            while comments.count(b":") < 2:
                chunk = await response.content.readany()
                comments += [line for line in chunk.split(b"\n") if line.startswith(b":")]
        revision = await put(client, "k", 1)
        (event,) = await events(response, 1)
    assert event.id == str(revision)


async def test_a_compacted_revision_is_410_naming_the_oldest_kept(
    served: tuple[Client, Any],
) -> None:
    client, _ = served
    revisions = [await put(client, "k", n) for n in range(10)]
    response = await client.get("/v1/watch?from_revision=1")
    assert response.status == 410
    error = (await response.json())["error"]
    assert error["code"] == "compacted"
    assert str(revisions[-6]) in error["message"]


@pytest.mark.parametrize(
    "query",
    [
        "from_revision=0",
        "from_revision=-1",
        "from_revision=x",
        "from_revision=1&from_revision=2",
        "prefx=a",
        "from_revision=" + "9" * 30,
    ],
)
async def test_bad_parameters_are_400(served: tuple[Client, Any], query: str) -> None:
    client, _ = served
    response = await client.get(f"/v1/watch?{query}")
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "invalid_request"


async def test_a_bad_last_event_id_is_400(served: tuple[Client, Any]) -> None:
    client, _ = served
    response = await client.get("/v1/watch", headers={"Last-Event-ID": "abc"})
    assert response.status == 400


async def test_streams_end_when_watches_are_ended(served: tuple[Client, Any]) -> None:
    client, service = served
    async with client.get("/v1/watch") as response:
        await response.content.readany()  # ": watching"
        service.end_watches()
        async with asyncio.timeout(WAIT_SECONDS):
            rest = await response.content.read()
    assert b"event:" not in rest
    after = await client.get("/v1/watch")
    assert after.status == 503


async def test_the_route_answers_only_get(served: tuple[Client, Any]) -> None:
    client, _ = served
    response = await client.post("/v1/watch")
    assert response.status == 405
    assert "GET" in response.headers["Allow"]


async def test_a_batch_larger_than_one_write_arrives_whole_and_in_order(
    served: tuple[Client, Any],
) -> None:
    client, _ = served
    values = [c * (40 * 1024) for c in "abc"]  # 120 KiB: sent as more than one write
    first = await put(client, "big/0", values[0])
    for n, value in enumerate(values[1:], 1):
        await put(client, f"big/{n}", value)
    async with client.get(f"/v1/watch?from_revision={first}") as response:
        received = await events(response, 3)
    assert [json.loads(event.data)["value"] for event in received] == values
    assert [int(event.id) for event in received] == [first, first + 1, first + 2]


async def test_a_replayed_put_of_an_entry_since_expired_carries_no_ttl(aiohttp_client: Any) -> None:
    """The event shows the entry as written; its expiry is the delete that follows, and no
    event says that an expired entry has 0 seconds left."""
    clock = FakeClock()
    service = KeyValueService(InMemoryStore(clock=clock), clock=clock)
    await service.start()
    client = await aiohttp_client(create_app(service))
    written = await put(client, "k", "v", ttl=5)
    await clock.advance(6)
    assert (await client.get("/v1/kv/k")).status == 404
    async with client.get(f"/v1/watch?from_revision={written}") as response:
        put_event, expiry = await events(response, 2)
    assert json.loads(put_event.data) == {"key": "k", "value": "v", "revision": written}
    assert json.loads(expiry.data) == {"key": "k", "revision": written + 1, "expired": True}


async def test_a_transaction_is_one_event_per_changed_key_all_with_its_revision(
    served: tuple[Client, Any],
) -> None:
    client, _ = served
    gone = await put(client, "t/gone", 0)
    response = await client.get(f"/v1/watch?from_revision={gone + 1}")
    answer = await client.post(
        "/v1/txn",
        json={
            "success": [
                {"op": "put", "key": "t/b", "value": 1},
                {"op": "get", "key": "t/b"},
                {"op": "delete", "key": "t/gone"},
                {"op": "put", "key": "t/a", "value": 2},
            ]
        },
    )
    revision = (await answer.json())["revision"]
    after = await put(client, "t/z", 3)
    seen = await events(response, 4)
    response.close()
    assert [(e.id, e.event, json.loads(e.data)["key"]) for e in seen] == [
        (str(revision), "put", "t/b"),
        (str(revision), "delete", "t/gone"),
        (str(revision), "put", "t/a"),
        (str(after), "put", "t/z"),
    ]
    # Resuming after the transaction's revision starts after all of it.
    resumed = await client.get("/v1/watch", headers={"Last-Event-ID": str(revision)})
    (next_event,) = await events(resumed, 1)
    resumed.close()
    assert next_event.id == str(after)
