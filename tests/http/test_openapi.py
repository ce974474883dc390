"""GET /openapi.json describes exactly the routes the app has, and real answers fit its schemas."""

from __future__ import annotations

from typing import Any

import jsonschema_rs
import pytest
import schemathesis
from aiohttp import web
from aiohttp.test_utils import TestClient

from kv.adapters.memory import InMemoryStore
from kv.domain import KeyValueService
from kv.transports.http import create_app
from kv.transports.http.openapi import OPERATIONS, build_document, routes

Client = TestClient  # type: ignore[type-arg]


def _app() -> web.Application:
    return create_app(KeyValueService(InMemoryStore()))


async def _document(client: Client) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status == 200
    assert response.content_type == "application/json"
    document: dict[str, Any] = await response.json()
    return document


async def test_the_document_names_every_route_and_nothing_else(client: Client) -> None:
    document = await _document(client)
    assert document["openapi"].startswith("3.1")
    described = {
        (method.upper(), path) for path, item in document["paths"].items() for method in item
    }
    assert described == routes(client.app)


def test_every_operation_entry_has_its_route() -> None:
    """An entry for a route that is gone would describe an API that does not exist."""
    assert set(OPERATIONS) <= routes(_app())


def test_a_route_without_an_entry_stops_the_build() -> None:
    async def undocumented(request: web.Request) -> web.Response:
        return web.Response()

    app = _app()
    app.router.add_get("/undocumented", undocumented)
    with pytest.raises(KeyError, match="GET /undocumented"):
        build_document(app)


def test_the_document_is_valid_openapi_3_1() -> None:
    schemathesis.openapi.from_dict(build_document(_app())).validate()


def _schema(document: dict[str, Any], path: str, method: str, status: int) -> dict[str, Any]:
    response = document["paths"][path][method]["responses"][str(status)]
    schema: dict[str, Any] = response["content"]["application/json"]["schema"]
    return {**schema, "components": document["components"]}


KEY_PATH = "/v1/kv/{key}"
# (method, url, headers, body) -> the path of the document and the status it must answer with.
CALLS: list[tuple[str, str, dict[str, str], Any, str, int]] = [
    ("PUT", "/v1/kv/a%2Fb", {}, {"value": {"n": [1, None]}}, KEY_PATH, 201),
    ("PUT", "/v1/kv/a%2Fb", {}, {"value": "again"}, KEY_PATH, 200),
    ("PUT", "/v1/kv/a%2Fb", {"If-Match": '"99"'}, {"value": 1}, KEY_PATH, 412),
    ("PUT", "/v1/kv/a%2Fb", {"If-Match": "nonsense"}, {"value": 1}, KEY_PATH, 400),
    ("PUT", "/v1/kv/a%2Fb", {}, {"value": 1, "extra": 2}, KEY_PATH, 400),
    ("POST", "/v1/kv/a%2Fb", {}, {"value": 1}, KEY_PATH, 409),
    ("POST", "/v1/kv/new", {}, {"value": 1}, KEY_PATH, 201),
    ("PUT", "/v1/kv/expiring", {}, {"value": 1, "ttl": 60}, KEY_PATH, 201),
    ("PUT", "/v1/kv/expiring", {}, {"value": 1, "ttl": 1.5}, KEY_PATH, 400),
    ("GET", "/v1/kv?prefix=a&limit=1", {}, None, "/v1/kv", 200),
    ("GET", "/v1/kv?keys_only=true", {}, None, "/v1/kv", 200),
    ("GET", "/v1/kv?limit=0", {}, None, "/v1/kv", 400),
    ("GET", "/v1/kv/a%2Fb", {}, None, KEY_PATH, 200),
    ("GET", "/v1/kv/missing", {}, None, KEY_PATH, 404),
    ("DELETE", "/v1/kv/a%2Fb", {}, None, KEY_PATH, 200),
    ("DELETE", "/v1/kv/a%2Fb", {}, None, KEY_PATH, 404),
    (
        "POST",
        "/v1/txn",
        {},
        {
            "compare": [{"key": "t/a", "revision": 0}],
            "success": [
                {"op": "put", "key": "t/a", "value": 1, "ttl": 60},
                {"op": "get", "key": "t/a"},
                {"op": "get", "key": "t/none"},
                {"op": "delete", "key": "t/none"},
            ],
        },
        "/v1/txn",
        200,
    ),
    ("POST", "/v1/txn", {}, {"success": [], "extra": []}, "/v1/txn", 400),
    ("GET", "/healthz", {}, None, "/healthz", 200),
    ("GET", "/readyz", {}, None, "/readyz", 200),
    ("GET", "/openapi.json", {}, None, "/openapi.json", 200),
]


async def test_answers_fit_the_documented_schemas(client: Client) -> None:
    document = await _document(client)
    for method, url, headers, body, path, status in CALLS:
        response = await client.request(method, url, headers=headers, json=body)
        assert response.status == status, (method, url)
        schema = _schema(document, path, method.lower(), status)
        jsonschema_rs.validate(schema, await response.json())


async def test_a_schema_rejects_what_the_api_never_answers(client: Client) -> None:
    """The schemas are not vacuous: an entry without a revision does not fit."""
    document = await _document(client)
    with pytest.raises(jsonschema_rs.ValidationError):
        jsonschema_rs.validate(_schema(document, KEY_PATH, "get", 200), {"key": "k", "value": 1})


async def test_watch_events_and_refusals_fit_the_document(client: Client) -> None:
    """GET /v1/watch is not fuzzed (an endless stream): its answers are checked here."""
    document = await _document(client)
    watch = document["paths"]["/v1/watch"]["get"]["responses"]
    event_schema = {**watch["200"]["content"]["text/event-stream"]["schema"]}
    for value in ("one", None):
        await client.put("/v1/kv/watched", json={"value": value})
    await client.delete("/v1/kv/watched")
    response = await client.get("/v1/watch?from_revision=1")
    assert response.status == 200
    events: list[dict[str, str]] = []
    event: dict[str, str] = {}
    while len(events) < 3:
        line = (await response.content.readline()).decode().rstrip("\n")
        if not line:
            if event:
                events.append(event)
            event = {}
        elif not line.startswith(":"):
            name, _, text = line.partition(": ")
            event[name] = text
    response.close()
    assert [e["event"] for e in events] == ["put", "put", "delete"]
    for event in events:
        jsonschema_rs.validate(event_schema, event)
    with pytest.raises(jsonschema_rs.ValidationError):
        jsonschema_rs.validate(event_schema, {"id": "0", "event": "put", "data": "{}"})
    for url, status in (("/v1/watch?from_revision=0", 400), ("/v1/watch?nonsense=1", 400)):
        refused = await client.get(url)
        assert refused.status == status, url
        jsonschema_rs.validate(_schema(document, "/v1/watch", "get", status), await refused.json())
    assert (await client.head("/v1/watch")).status == 405
