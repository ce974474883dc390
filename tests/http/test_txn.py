"""`POST /v1/txn` over HTTP: statuses and refusals the transport contract does not name."""

from __future__ import annotations

from typing import Any

import pytest

from tests.http.conftest import MakeClient


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"success": [], "unknown": 1}, 400, "invalid_request"),
        ({"success": [{"op": "put", "key": "a", "value": 1, "extra": 0}]}, 400, "invalid_request"),
        ([1, 2], 400, "invalid_request"),
        ({"success": [{"op": "put", "key": "a", "value": "x" * 60},
                      {"op": "put", "key": "b", "value": "y" * 60}]}, 413, "payload_too_large"),
    ],
)  # fmt: skip
async def test_refusals(make_client: MakeClient, body: Any, status: int, code: str) -> None:
    client = await make_client(max_value_bytes=100)
    response = await client.post("/v1/txn", json=body)
    assert response.status == status
    assert (await response.json())["error"]["code"] == code


async def test_a_body_that_is_not_json_is_400_and_another_type_415(
    make_client: MakeClient,
) -> None:
    client = await make_client()
    response = await client.post("/v1/txn", data=b"{", headers={"Content-Type": "application/json"})
    assert response.status == 400
    response = await client.post("/v1/txn", data=b"{}", headers={"Content-Type": "text/plain"})
    assert response.status == 415
    assert (await client.get("/v1/txn")).status == 405


async def test_an_empty_transaction_succeeds_and_changes_nothing(make_client: MakeClient) -> None:
    client = await make_client()
    response = await client.post("/v1/txn", json={})
    assert response.status == 200
    assert await response.json() == {"succeeded": True, "revision": 0, "results": []}


async def test_a_branch_must_be_a_list_when_present(make_client: MakeClient) -> None:
    client = await make_client()
    for body in ({"failure": None}, {"compare": {}}, {"success": "get"}):
        response = await client.post("/v1/txn", json=body)
        assert response.status == 400, body
