"""`GET /v1/kv` and the `ttl` body field (docs/listing-and-ttl.md), against the app in-process."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from aiohttp.test_utils import TestClient

from kv.adapters.memory import InMemoryStore
from kv.domain import KeyValueService
from kv.transports.http import create_app
from tests.fakes import FakeClock
from tests.http.test_api import JSON, assert_error, put

Client = TestClient  # type: ignore[type-arg]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def timed(aiohttp_client: Any, clock: FakeClock) -> Client:
    """A client of an app whose store and service both run on `clock`."""
    service = KeyValueService(InMemoryStore(clock=clock), clock=clock)
    await service.start()
    client: Client = await aiohttp_client(create_app(service))
    return client


async def fill(client: Client, keys: list[str]) -> None:
    for number, key in enumerate(keys):
        response = await put(client, "/v1/kv/" + quote(key, safe=""), number)
        assert response.status == 201


async def listed(client: Client, query: str = "") -> dict[str, Any]:
    response = await client.get("/v1/kv" + query)
    assert response.status == 200, await response.text()
    assert response.content_type == "application/json"
    document: dict[str, Any] = await response.json()
    return document


async def test_a_listing_is_sorted_paged_and_ends_with_a_null_cursor(client: Client) -> None:
    keys = ["p/b", "p/a", "p/é", "p/Z", "p/🔑", "p/\uff01", "q/outside", "p"]
    await fill(client, keys)
    seen: list[str] = []
    query = "?prefix=p%2F&limit=2"
    pages = 0
    while True:
        page = await listed(client, query)
        pages += 1
        assert set(page) == {"entries", "next_cursor", "revision"}
        assert len(page["entries"]) <= 2
        assert page["revision"] == len(keys)
        seen += [entry["key"] for entry in page["entries"]]
        if page["next_cursor"] is None:
            break
        query = f"?prefix=p%2F&limit=2&cursor={quote(page['next_cursor'], safe='')}"
    assert seen == sorted((k for k in keys if k.startswith("p/")), key=str.encode)
    assert pages == 3


async def test_full_entries_are_get_bodies_and_keys_only_has_key_and_revision(
    client: Client,
) -> None:
    await put(client, "/v1/kv/k1", {"a": [1]})
    full = await listed(client)
    assert full == {
        "entries": [{"key": "k1", "value": {"a": [1]}, "revision": 1}],
        "next_cursor": None,
        "revision": 1,
    }
    keys_only = await listed(client, "?keys_only=true")
    assert keys_only["entries"] == [{"key": "k1", "revision": 1}]
    assert (await listed(client, "?keys_only=false"))["entries"] == full["entries"]


async def test_default_limit_is_100_and_1000_is_allowed(client: Client) -> None:
    await fill(client, [f"k{n:04d}" for n in range(101)])
    first = await listed(client)
    assert len(first["entries"]) == 100
    assert first["next_cursor"] is not None
    assert len((await listed(client, "?limit=1000"))["entries"]) == 101


async def test_prefix_is_percent_decoded_as_utf8(client: Client) -> None:
    await fill(client, ["a b/1", "a+b/2", "ключ/3"])
    assert [e["key"] for e in (await listed(client, "?prefix=a%20b"))["entries"]] == ["a b/1"]
    assert [e["key"] for e in (await listed(client, "?prefix=a%2Bb"))["entries"]] == ["a+b/2"]
    cyrillic = "?prefix=" + quote("ключ")
    assert [e["key"] for e in (await listed(client, cyrillic))["entries"]] == ["ключ/3"]


@pytest.mark.parametrize(
    "query",
    [
        "?limit=0",
        "?limit=1001",
        "?limit=-1",
        "?limit=1.5",
        "?limit=",
        "?limit=ten",
        "?limit=" + "9" * 40,
        "?cursor=not-a-cursor",
        "?cursor=%00%01",
        "?keys_only=yes",
        "?keys_only=",
        "?keys_only=True",
        "?prefix=a&prefix=b",
        "?prefx=a",
        "?prefix=%ff",
    ],
)
async def test_bad_list_queries_are_400(client: Client, query: str) -> None:
    await assert_error(await client.get("/v1/kv" + query), 400, "invalid_request")


async def test_a_cursor_of_another_prefix_is_400(client: Client) -> None:
    await fill(client, ["a/1", "a/2", "b/1"])
    cursor = (await listed(client, "?prefix=a%2F&limit=1"))["next_cursor"]
    assert cursor is not None
    response = await client.get(f"/v1/kv?prefix=b%2F&cursor={quote(cursor, safe='')}")
    await assert_error(response, 400, "invalid_request")


async def test_list_route_allows_get_and_head_only(client: Client) -> None:
    assert (await client.head("/v1/kv")).status == 200
    response = await client.put("/v1/kv", json={"value": 1})
    await assert_error(response, 405, "method_not_allowed")
    assert set(response.headers["Allow"].split(",")) >= {"GET", "HEAD"}


async def test_ttl_is_reported_rounded_up_and_counts_down(timed: Client, clock: FakeClock) -> None:
    created = await timed.put("/v1/kv/t", json={"value": "v", "ttl": 10})
    assert created.status == 201
    assert await created.json() == {
        "key": "t",
        "value": "v",
        "revision": 1,
        "created": True,
        "ttl": 10,
    }
    await clock.advance(2.5)
    assert (await (await timed.get("/v1/kv/t")).json())["ttl"] == 8
    assert (await listed(timed))["entries"][0]["ttl"] == 8
    assert "ttl" not in (await listed(timed, "?keys_only=true"))["entries"][0]
    await clock.advance(7.5)
    await assert_error(await timed.get("/v1/kv/t"), 404, "not_found")
    assert (await listed(timed))["entries"] == []


async def test_post_takes_a_ttl_and_a_plain_put_clears_it(timed: Client, clock: FakeClock) -> None:
    created = await timed.post("/v1/kv/t", json={"value": "v", "ttl": 5})
    assert (await created.json())["ttl"] == 5
    plain = await put(timed, "/v1/kv/t", "v")
    document = await plain.json()
    assert "ttl" not in document
    assert document["revision"] == 2, "clearing the expiry is a change"
    await clock.advance(60)
    assert "ttl" not in await (await timed.get("/v1/kv/t")).json()
    deleted = await timed.delete("/v1/kv/t")
    assert deleted.status == 200


@pytest.mark.parametrize(
    "ttl",
    [0, -1, 31_536_001, 1.5, 5.0, 1e3, True, "5", None, [5], {"s": 5}, 2**70],
    ids=repr,
)
async def test_bad_ttls_are_400_and_change_nothing(client: Client, ttl: Any) -> None:
    await put(client, "/v1/kv/k", "before")
    for method in ("PUT", "POST"):
        response = await client.request(method, "/v1/kv/k", json={"value": "after", "ttl": ttl})
        await assert_error(response, 400, "invalid_request")
    document = await (await client.get("/v1/kv/k")).json()
    assert document == {"key": "k", "value": "before", "revision": 1}


@pytest.mark.parametrize("ttl", [1, 31_536_000])
async def test_ttl_bounds_are_accepted(client: Client, ttl: int) -> None:
    response = await client.put("/v1/kv/k", json={"value": 1, "ttl": ttl})
    assert response.status == 201
    assert (await response.json())["ttl"] == ttl


async def test_fields_other_than_value_and_ttl_are_still_400(client: Client) -> None:
    body = b'{"value": 1, "ttl": 5, "lease": 2}'
    response = await client.put("/v1/kv/k", data=body, headers=JSON)
    await assert_error(response, 400, "invalid_request")
    response = await client.put("/v1/kv/k", data=b'{"ttl": 5}', headers=JSON)
    await assert_error(response, 400, "invalid_request")
