"""The REST API, row by row of the table in docs/http-api.md, against the real app in-process."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from kv.adapters.memory import InMemoryStore
from kv.domain import Entry
from tests.fakes import FakeDurableStore
from tests.http.conftest import MakeClient

Client = TestClient  # type: ignore[type-arg]
JSON = {"Content-Type": "application/json"}


async def put(client: Client, path: str, value: Any, **headers: str) -> Any:
    return await client.put(path, json={"value": value}, headers=headers)


async def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status == status, await response.text()
    assert response.content_type == "application/json"
    document: dict[str, Any] = await response.json()
    assert document["error"]["code"] == code
    assert document["error"]["message"]
    return document


async def assert_unchanged(client: Client, path: str, expected: Any) -> None:
    response = await client.get(path)
    if expected is None:
        assert response.status == 404
    else:
        assert (await response.json())["value"] == expected


async def test_put_creates_with_201_location_and_etag(client: Client) -> None:
    response = await put(client, "/v1/kv/a/b%20c", "hello")
    assert response.status == 201
    assert await response.json() == {
        "key": "a/b c",
        "value": "hello",
        "revision": 1,
        "created": True,
    }
    assert response.headers["ETag"] == '"1"'
    assert response.headers["Location"] == "/v1/kv/a%2Fb%20c"
    follow = await client.get(response.headers["Location"])
    assert (await follow.json())["key"] == "a/b c"


async def test_put_replaces_with_200_and_a_repeat_changes_nothing(client: Client) -> None:
    await put(client, "/v1/kv/k", 1)
    replaced = await put(client, "/v1/kv/k", 2)
    assert replaced.status == 200
    assert await replaced.json() == {"key": "k", "value": 2, "revision": 2, "created": False}
    repeated = await put(client, "/v1/kv/k", 2)
    assert repeated.status == 200
    assert (await repeated.json())["revision"] == 2
    assert repeated.headers["ETag"] == '"2"'


async def test_post_creates_only(client: Client) -> None:
    created = await client.post("/v1/kv/k", json={"value": [1]})
    assert created.status == 201
    assert await created.json() == {"key": "k", "value": [1], "revision": 1}
    assert created.headers["Location"] == "/v1/kv/k"
    await assert_error(await client.post("/v1/kv/k", json={"value": [2]}), 409, "already_exists")
    await assert_unchanged(client, "/v1/kv/k", [1])


async def test_get_and_head(client: Client) -> None:
    await put(client, "/v1/kv/k", {"x": None})
    got = await client.get("/v1/kv/k")
    assert got.status == 200
    assert await got.json() == {"key": "k", "value": {"x": None}, "revision": 1}
    assert got.headers["ETag"] == '"1"'
    head = await client.head("/v1/kv/k")
    assert head.status == 200
    assert head.headers["ETag"] == '"1"'
    assert await head.read() == b""
    await assert_error(await client.get("/v1/kv/missing"), 404, "not_found")
    assert (await client.head("/v1/kv/missing")).status == 404


async def test_delete_returns_the_entry_or_204_and_then_404(client: Client) -> None:
    await put(client, "/v1/kv/k", "v")
    deleted = await client.delete("/v1/kv/k")
    assert deleted.status == 200
    assert await deleted.json() == {"key": "k", "value": "v", "revision": 1}
    await assert_error(await client.delete("/v1/kv/k"), 404, "not_found")
    await put(client, "/v1/kv/k", "v")
    minimal = await client.delete("/v1/kv/k", headers={"Prefer": "return=minimal"})
    assert minimal.status == 204
    assert await minimal.read() == b""
    await assert_unchanged(client, "/v1/kv/k", None)


async def test_if_match_and_if_none_match(client: Client) -> None:
    await assert_error(
        await put(client, "/v1/kv/k", 1, **{"If-Match": "*"}), 412, "precondition_failed"
    )
    assert (await put(client, "/v1/kv/k", 1, **{"If-None-Match": "*"})).status == 201
    await assert_error(
        await put(client, "/v1/kv/k", 2, **{"If-None-Match": "*"}), 412, "precondition_failed"
    )
    await assert_error(
        await put(client, "/v1/kv/k", 2, **{"If-Match": '"9"'}), 412, "precondition_failed"
    )
    assert (await put(client, "/v1/kv/k", 2, **{"If-Match": '"1"'})).status == 200
    assert (await put(client, "/v1/kv/k", 3, **{"If-Match": "*"})).status == 200
    await assert_error(
        await client.delete("/v1/kv/k", headers={"If-Match": '"2"'}), 412, "precondition_failed"
    )
    await assert_unchanged(client, "/v1/kv/k", 3)
    assert (await client.delete("/v1/kv/k", headers={"If-Match": '"3"'})).status == 200


@pytest.mark.parametrize(
    "tag", ['"01"', 'W/"1"', '"0"', '"-1"', '""', '"9223372036854775808"', '"1' + "0" * 30 + '"']
)
async def test_entity_tags_compare_as_strings(client: Client, tag: str) -> None:
    # Well-formed tags that are not the one the entry carries (`"1"`): not met, whatever
    # number they would read as.
    await put(client, "/v1/kv/k", 1)
    for response in (
        await put(client, "/v1/kv/k", 2, **{"If-Match": tag}),
        await client.delete("/v1/kv/k", headers={"If-Match": tag}),
    ):
        await assert_error(response, 412, "precondition_failed")
    await assert_unchanged(client, "/v1/kv/k", 1)


@pytest.mark.parametrize("tag", ['"1"', "*"])
async def test_if_match_on_a_create_is_never_met(client: Client, tag: str) -> None:
    created = await client.post("/v1/kv/new", json={"value": 1}, headers={"If-Match": tag})
    await assert_error(created, 412, "precondition_failed")
    await assert_error(await client.get("/v1/kv/new"), 404, "not_found")


async def test_a_wrong_content_type_is_named_as_received(client: Client) -> None:
    sent = await client.put(
        "/v1/kv/k",
        data=b'{"value": 1}',
        headers={"Content-Type": "application/json; charset=latin-1"},
    )
    await assert_error(sent, 415, "unsupported_media_type")
    assert "application/json; charset=latin-1" in (await sent.json())["error"]["message"]


async def test_a_number_too_long_to_read_is_400_in_the_apis_words(client: Client) -> None:
    sent = await client.put(
        "/v1/kv/k",
        data=b'{"value": ' + b"7" * 5000 + b"}",
        headers={"Content-Type": "application/json"},
    )
    await assert_error(sent, 400, "invalid_request")
    message = (await sent.json())["error"]["message"]
    assert "sys." not in message
    assert "5000 digits" in message


@pytest.mark.parametrize(
    "headers",
    [
        {"If-Match": "5"},
        {"If-Match": '"1", "2"'},
        {"If-Match": '"1'},
        {"If-Match": '"a b"'},
        {"If-None-Match": '"1"'},
        {"If-Match": "*", "If-None-Match": "*"},
    ],
)
async def test_malformed_conditions_are_400(client: Client, headers: dict[str, str]) -> None:
    await put(client, "/v1/kv/k", 1)
    await assert_error(await put(client, "/v1/kv/k", 2, **headers), 400, "invalid_request")
    await assert_unchanged(client, "/v1/kv/k", 1)


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"",
        b'"just a string"',
        b"[1]",
        b"{}",
        b'{"val": 1}',
        b'{"value": 1, "extra": 2}',
        b'{"value": NaN}',
        b'{"value": Infinity}',
        b'{"value": 1',
        b"[" * 100_000,
        b'{"value": "\xff"}',
    ],
)
async def test_every_bad_body_is_400_and_changes_nothing(client: Client, body: bytes) -> None:
    await put(client, "/v1/kv/k", "before")
    for method in ("PUT", "POST"):
        response = await client.request(method, "/v1/kv/k", data=body, headers=JSON)
        await assert_error(response, 400, "invalid_request")
    await assert_unchanged(client, "/v1/kv/k", "before")


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin-1", None],
)
async def test_wrong_content_type_is_415(client: Client, content_type: str | None) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}
    response = await client.put("/v1/kv/k", data=b'{"value": 1}', headers=headers)
    await assert_error(response, 415, "unsupported_media_type")
    await assert_unchanged(client, "/v1/kv/k", None)


async def test_json_with_utf8_charset_is_accepted(client: Client) -> None:
    headers = {"Content-Type": "application/json; charset=UTF-8"}
    response = await client.put("/v1/kv/k", data='{"value": "é"}'.encode(), headers=headers)
    assert response.status == 201


async def test_values_up_to_the_limit_even_in_a_larger_body(client: Client) -> None:
    limit = 1024 * 1024
    value = "x" * (limit - 2)  # compact JSON: the string plus two quotes, exactly the limit
    body = json.dumps({"value": value}, indent=4).encode()
    assert len(body) > limit
    response = await client.put("/v1/kv/big", data=io.BytesIO(body), headers=JSON)
    assert response.status == 201
    assert len((await (await client.get("/v1/kv/big")).json())["value"]) == limit - 2
    over = await client.put(
        "/v1/kv/big", data=io.BytesIO(json.dumps({"value": value + "x"}).encode()), headers=JSON
    )
    await assert_error(over, 413, "payload_too_large")
    await assert_unchanged(client, "/v1/kv/big", value)


async def test_a_body_far_over_the_limit_is_refused_unread(client: Client) -> None:
    body = io.BytesIO(b"x" * (8 * 1024 * 1024))
    declared = await client.put("/v1/kv/k", data=body, headers=JSON)
    await assert_error(declared, 413, "payload_too_large")

    async def chunks() -> Any:
        for _ in range(64):
            yield b"x" * (128 * 1024)

    streamed = await client.put("/v1/kv/k", data=chunks(), headers=JSON)
    await assert_error(streamed, 413, "payload_too_large")
    await assert_unchanged(client, "/v1/kv/k", None)


async def test_max_value_bytes_is_configurable(make_client: MakeClient) -> None:
    client = await make_client(max_value_bytes=10)
    assert (await put(client, "/v1/kv/k", "12345678")).status == 201
    await assert_error(await put(client, "/v1/kv/k", "123456789"), 413, "payload_too_large")


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("/v1/kv/a/b%20c", "a/b c"),
        ("/v1/kv/a%2Fb", "a/b"),
        ("/v1/kv/%252F", "%2F"),
        ("/v1/kv/a+b", "a+b"),
        ("/v1/kv/%C3%BCn%C3%AF%F0%9F%94%91", "ünï🔑"),
        ("/v1/kv//lead", "/lead"),
        ("/v1/kv/trail/", "trail/"),
        ("/v1/kv/" + "k" * 1024, "k" * 1024),
    ],
)
async def test_keys_are_percent_decoded_exactly_once(client: Client, path: str, key: str) -> None:
    response = await put(client, path, key)
    assert response.status == 201
    assert (await response.json())["key"] == key
    assert (await (await client.get(path)).json())["value"] == key


@pytest.mark.parametrize("path", ["/v1/kv/", "/v1/kv/" + "k" * 1025, "/v1/kv/%FF", "/v1/kv/%C3"])
async def test_bad_keys_are_400_for_every_method(client: Client, path: str) -> None:
    for method in ("GET", "PUT", "POST", "DELETE"):
        response = await client.request(method, path, json={"value": 1})
        await assert_error(response, 400, "invalid_request")


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [("PATCH", "/v1/kv/k", "DELETE,GET,HEAD,POST,PUT"), ("POST", "/healthz", "GET,HEAD")],
)
async def test_wrong_method_is_405_with_allow(
    client: Client, method: str, path: str, allow: str
) -> None:
    response = await client.request(method, path)
    await assert_error(response, 405, "method_not_allowed")
    assert set(response.headers["Allow"].split(",")) == set(allow.split(","))


async def test_unknown_routes_are_json_404(client: Client) -> None:
    for path in ("/", "/v1/kvx", "/v2/kv/k", "/nope"):
        await assert_error(await client.get(path), 404, "not_found")


async def test_health_and_readiness(client: Client) -> None:
    assert (await client.get("/healthz")).status == 200
    ready = await client.get("/readyz")
    assert ready.status == 200
    assert (await ready.json())["status"] == "ready"


async def test_storage_down_is_503_with_retry_after(make_client: MakeClient) -> None:
    store = FakeDurableStore()
    store.broken = True
    client = await make_client(store)
    for response in (await client.get("/readyz"), await put(client, "/v1/kv/k", 1)):
        await assert_error(response, 503, "unavailable")
        assert response.headers["Retry-After"]
    assert (await client.get("/healthz")).status == 200


async def test_request_id_is_echoed_or_made_up(client: Client) -> None:
    given = await client.get("/v1/kv/k", headers={"X-Request-ID": "trace-123"})
    assert given.headers["X-Request-ID"] == "trace-123"
    made = await client.get("/v1/kv/k")
    assert len(made.headers["X-Request-ID"]) == 32
    unsafe = await client.get("/v1/kv/k", headers={"X-Request-ID": "x" * 500})
    assert unsafe.headers["X-Request-ID"] != "x" * 500


class ExplodingStore(InMemoryStore):
    async def get(self, key: str) -> Entry | None:
        raise RuntimeError("secret detail from deep inside")


async def test_unexpected_errors_are_500_without_details_and_logged_with_the_request_id(
    make_client: MakeClient, log_lines: list[dict[str, Any]]
) -> None:
    client = await make_client(ExplodingStore())
    response = await client.get("/v1/kv/k", headers={"X-Request-ID": "req-500"})
    document = await assert_error(response, 500, "internal")
    assert "secret" not in json.dumps(document)
    [error] = [line for line in log_lines if "exception" in line]
    assert "secret detail" in error["exception"]
    assert (error["request_id"], error["operation"]) == ("req-500", "GET /v1/kv/{key}")
    [access] = [line for line in log_lines if line["logger"] == "kv.access"]
    assert (access["request_id"], access["outcome"]) == ("req-500", "500")
    assert access["path"] == "/v1/kv/k"


async def test_metrics_count_requests_by_operation_and_outcome(client: Client) -> None:
    await put(client, "/v1/kv/m", 1)
    for _ in range(2):
        await client.get("/v1/kv/m")
    await client.get("/v1/kv/absent")
    await client.get("/no/such/route")
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.content_type == "text/plain"
    text = await response.text()
    counted = 'kv_request_duration_seconds_count{{operation="{}",outcome="{}",transport="http"}} {}'
    assert counted.format("PUT /v1/kv/{key}", "201", "1.0") in text
    assert counted.format("GET /v1/kv/{key}", "200", "2.0") in text
    assert counted.format("GET /v1/kv/{key}", "404", "1.0") in text
    assert counted.format("unmatched", "404", "1.0") in text
    bucket = 'kv_request_duration_seconds_bucket{le="+Inf",operation="GET /v1/kv/{key}",'
    assert bucket + 'outcome="200",transport="http"} 2.0' in text
