"""`Idempotency-Key` over HTTP: the first answer replayed exactly, 422 for another request, 400."""

from __future__ import annotations

from typing import Any

import pytest

from kv.adapters.memory import InMemoryStore
from tests.http.conftest import MakeClient


async def send(
    client: Any, method: str, path: str, key: str, **options: Any
) -> tuple[int, Any, Any]:
    headers = {"Idempotency-Key": key, **options.pop("headers", {})}
    response = await client.request(method, path, headers=headers, **options)
    return response.status, await response.read(), response.headers


@pytest.mark.parametrize(
    ("method", "path", "options"),
    [
        ("PUT", "/v1/kv/a", {"json": {"value": 1}}),
        ("PUT", "/v1/kv/a", {"json": {"value": 1, "ttl": 600}}),
        ("POST", "/v1/kv/a", {"json": {"value": [1]}}),
        ("POST", "/v1/txn", {"json": {"success": [{"op": "put", "key": "a", "value": 2}]}}),
    ],
)
async def test_a_write_is_replayed_exactly_and_applied_once(
    make_client: MakeClient, method: str, path: str, options: dict[str, Any]
) -> None:
    store = InMemoryStore()
    client = await make_client(store)
    status, body, headers = await send(client, method, path, "k-1", **options)
    assert status in (200, 201)
    assert "Idempotent-Replayed" not in headers
    revision = store.revision
    again_status, again_body, again_headers = await send(client, method, path, "k-1", **options)
    assert (again_status, again_body) == (status, body)
    assert again_headers["Idempotent-Replayed"] == "true"
    assert again_headers["ETag"] == headers["ETag"] if "ETag" in headers else True
    assert store.revision == revision


async def test_a_delete_is_replayed_and_not_404(make_client: MakeClient) -> None:
    client = await make_client()
    await client.put("/v1/kv/a", json={"value": 1})
    first = await send(client, "DELETE", "/v1/kv/a", "d")
    again = await send(client, "DELETE", "/v1/kv/a", "d")
    assert first[0] == again[0] == 200
    assert first[1] == again[1]
    assert again[2]["Idempotent-Replayed"] == "true"
    minimal = {"headers": {"Prefer": "return=minimal"}}
    await client.put("/v1/kv/a", json={"value": 1})
    assert (await send(client, "DELETE", "/v1/kv/a", "m", **minimal))[0] == 204
    replay = await send(client, "DELETE", "/v1/kv/a", "m", **minimal)
    assert (replay[0], replay[2]["Idempotent-Replayed"]) == (204, "true")


async def test_another_request_with_the_key_is_422(make_client: MakeClient) -> None:
    client = await make_client()
    await send(client, "PUT", "/v1/kv/a", "r", json={"value": 1})
    for method, path, options in [
        ("PUT", "/v1/kv/a", {"json": {"value": 2}}),
        ("PUT", "/v1/kv/b", {"json": {"value": 1}}),
        ("POST", "/v1/kv/a", {"json": {"value": 1}}),
        ("PUT", "/v1/kv/a", {"json": {"value": 1}, "headers": {"If-Match": '"1"'}}),
    ]:
        status, body, _ = await send(client, method, path, "r", **options)
        assert status == 422, (method, path, options)
        assert b'"idempotency_key_reused"' in body
    assert (await (await client.get("/v1/kv/a")).json())["value"] == 1
    assert (await client.get("/v1/kv/b")).status == 404


@pytest.mark.parametrize("key", ["", "x" * 256, "caf\u00e9", "tab\there"])
async def test_a_malformed_key_is_400(make_client: MakeClient, key: str) -> None:
    client = await make_client()
    headers = {"Idempotency-Key": key}
    try:
        response = await client.put("/v1/kv/a", json={"value": 1}, headers=headers)
    except ValueError:  # the client itself refuses to send a header it cannot encode
        return
    assert response.status == 400
    assert (await client.get("/v1/kv/a")).status == 404


async def test_a_refused_write_is_not_recorded(make_client: MakeClient) -> None:
    client = await make_client()
    await client.put("/v1/kv/a", json={"value": 1})
    assert (await send(client, "POST", "/v1/kv/a", "c", json={"value": 2}))[0] == 409
    await client.delete("/v1/kv/a")
    status, _, headers = await send(client, "POST", "/v1/kv/a", "c", json={"value": 2})
    assert status == 201
    assert "Idempotent-Replayed" not in headers
