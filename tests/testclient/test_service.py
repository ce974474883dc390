"""The test-client API, row by row of docs/test-client.md, in-process against a real KV service."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import replace
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from kv.adapters.memory import InMemoryStore
from kv.domain import Store
from testclient import config
from testclient.client import KVClient
from testclient.config import ClientSettings, ConfigError
from testclient.scenarios import SCENARIOS
from testclient.service import ConnectTo, create_app, serve
from tests.inprocess import serve_in_process
from tests.servers import free_port
from tests.testclient.broken_stores import OverwriteKeepsOld

Client = TestClient  # type: ignore[type-arg]
RESULT_FIELDS = {"test", "success", "transport", "duration_ms", "checks"}


class Harness:
    """Serves a KV service in-process and the test-client app in front of it."""

    def __init__(self, stack: AsyncExitStack, aiohttp_client: Any) -> None:
        self._stack = stack
        self._aiohttp_client = aiohttp_client

    async def kv(self, store: Store, transport: str = "http") -> ClientSettings:
        served = await self._stack.enter_async_context(serve_in_process(transport, store))
        return served.client_settings

    async def app(self, settings: ClientSettings, connect: ConnectTo = config.connect) -> Client:
        client: Client = await self._aiohttp_client(create_app(settings, connect))
        return client


@pytest.fixture
async def harness(aiohttp_client: Any) -> AsyncIterator[Harness]:
    async with AsyncExitStack() as stack:
        yield Harness(stack, aiohttp_client)


@pytest.fixture
async def app(harness: Harness) -> Client:
    """The test-client app over a correct KV service on HTTP."""
    return await harness.app(await harness.kv(InMemoryStore()))


@pytest.fixture
async def unreachable(harness: Harness) -> Client:
    """The test-client app pointed at a port where nothing listens."""
    return await harness.app(ClientSettings(addresses={"http": f"http://127.0.0.1:{free_port()}"}))


def assert_result(document: dict[str, Any], name: str) -> None:
    assert set(document) - {"error"} == RESULT_FIELDS
    assert document["test"] == name
    assert isinstance(document["success"], bool)
    assert document["transport"] in config.CLIENTS
    assert isinstance(document["duration_ms"], float)
    for check in document["checks"]:
        assert set(check) == {"name", "passed", "detail"}
        assert isinstance(check["passed"], bool)
        assert check["name"]
        assert check["detail"]


async def test_lists_every_scenario(app: Client) -> None:
    response = await app.get("/tests")
    assert response.status == 200
    assert await response.json() == {"tests": list(SCENARIOS)}


@pytest.mark.parametrize("name", ["deletion", "overwrite"])
async def test_named_endpoints_run_their_scenario(app: Client, name: str) -> None:
    response = await app.post(f"/test_{name}")
    assert response.status == 200
    document = await response.json()
    assert_result(document, name)
    assert document["success"] is True
    assert document["transport"] == "http"
    assert all(check["passed"] for check in document["checks"])


async def test_a_failing_scenario_is_200_with_its_failed_checks(harness: Harness) -> None:
    app = await harness.app(await harness.kv(OverwriteKeepsOld()))
    response = await app.post("/test_overwrite")
    assert response.status == 200
    document = await response.json()
    assert_result(document, "overwrite")
    assert document["success"] is False
    failed = [check for check in document["checks"] if not check["passed"]]
    assert failed
    assert "expected" in failed[0]["detail"]
    assert "observed" in failed[0]["detail"]


@pytest.mark.slow  # every scenario, end to end
async def test_run_all(app: Client) -> None:
    response = await app.post("/tests/run")
    assert response.status == 200
    document = await response.json()
    assert set(document) == {"success", "results"}
    assert document["success"] is True
    assert [result["test"] for result in document["results"]] == list(SCENARIOS)
    for result in document["results"]:
        assert_result(result, result["test"])


async def test_unreachable_kv_service_is_503_not_a_failure(unreachable: Client) -> None:
    response = await unreachable.post("/test_deletion")
    assert response.status == 503
    document = await response.json()
    assert_result(document, "deletion")
    assert document["success"] is False
    assert "unavailable" in document["error"]


async def test_run_all_stops_at_an_unreachable_kv_service(unreachable: Client) -> None:
    response = await unreachable.post("/tests/run")
    assert response.status == 503
    document = await response.json()
    assert document["success"] is False
    assert document["error"]
    assert len(document["results"]) == 1


@pytest.mark.parametrize("path", ["/test_deletion", "/test_overwrite", "/tests/run"])
async def test_get_on_a_test_endpoint_is_405(app: Client, path: str) -> None:
    response = await app.get(path)
    assert response.status == 405
    assert response.headers["Allow"] == "POST"
    document = await response.json()
    assert document["success"] is False
    assert "POST" in document["error"]


async def test_unknown_test_is_404(app: Client) -> None:
    response = await app.post("/test_no_such_scenario")
    assert response.status == 404
    document = await response.json()
    assert document["success"] is False
    assert "no_such_scenario" in document["error"]


async def test_unknown_transport_is_400(app: Client) -> None:
    response = await app.post("/test_deletion?transport=carrier-pigeon")
    assert response.status == 400
    assert "carrier-pigeon" in (await response.json())["error"]


async def test_transport_query_overrides_the_configured_one(harness: Harness) -> None:
    served = await harness.kv(InMemoryStore(), transport="grpc")
    app = await harness.app(
        replace(served, transport="http").with_address("http", "http://127.0.0.1:1")
    )
    response = await app.post("/test_deletion?transport=grpc")
    assert response.status == 200
    document = await response.json()
    assert document["transport"] == "grpc"
    assert document["success"] is True


async def test_request_id_is_passed_to_the_kv_service(harness: Harness) -> None:
    seen: list[str | None] = []

    def recording_connect(settings: ClientSettings, transport: str | None) -> KVClient:
        seen.append(settings.request_id)
        return config.connect(settings, transport)

    app = await harness.app(await harness.kv(InMemoryStore()), recording_connect)
    response = await app.post("/test_missing_key", headers={"X-Request-ID": "trace-42"})
    assert response.status == 200
    assert response.headers["X-Request-ID"] == "trace-42"
    assert seen
    assert set(seen) == {"trace-42"}


async def test_healthz(app: Client) -> None:
    response = await app.get("/healthz")
    assert response.status == 200
    assert await response.json() == {"status": "ok"}


async def test_serve_listens_until_stopped() -> None:
    settings = ClientSettings(host="127.0.0.1", port=free_port())
    stop = asyncio.Event()
    serving = asyncio.create_task(serve(settings, stop))
    async with aiohttp.ClientSession() as session:
        for _ in range(100):  # until it listens: at most ~5 s
            try:
                async with session.get(f"http://127.0.0.1:{settings.port}/healthz") as response:
                    assert response.status == 200
                    break
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.05)
        else:
            pytest.fail("the test-client service did not start listening")
    stop.set()
    await asyncio.wait_for(serving, 15)


async def test_serve_on_a_busy_port_names_the_variable() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        settings = ClientSettings(host="127.0.0.1", port=busy.getsockname()[1])
        with pytest.raises(ConfigError, match="TESTCLIENT_PORT"):
            await serve(settings, asyncio.Event())


async def test_replicas_named_in_one_address_are_each_used(harness: Harness) -> None:
    first = await harness.kv(InMemoryStore())
    second = await harness.kv(InMemoryStore())
    seen: list[ClientSettings] = []

    def recording_connect(settings: ClientSettings, transport: str | None) -> KVClient:
        seen.append(settings)
        return config.connect(settings, transport)

    both = first.with_address("http", f"{first.addresses['http']},{second.addresses['http']}")
    app = await harness.app(both, recording_connect)
    response = await app.post("/test_replicas", headers={"X-Request-ID": "trace-7"})
    assert response.status == 200
    document = await response.json()
    # Two servers that do not share a store are not replicas of one service.
    assert document["success"] is False
    assert {settings.addresses["http"] for settings in seen} >= {
        first.addresses["http"],
        second.addresses["http"],
    }
    assert {settings.request_id for settings in seen} == {"trace-7"}
