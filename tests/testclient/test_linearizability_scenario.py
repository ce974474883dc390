"""The linearizability scenario through the test-client API and `kv-testclient run`, with its
parameters; that it passes and fails where it should is in test_scenarios_catch_breakage.py."""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest

from kv.adapters.memory import InMemoryStore
from testclient.config import ClientSettings, connect, replicas
from testclient.runner import ScenarioResult, run_scenario
from testclient.service import create_app
from tests.inprocess import serve_in_process
from tests.testclient import broken_stores as broken
from tests.testclient.conftest import SERVED_TRANSPORTS
from tests.testclient.test_kv_testclient_cli import kv_testclient
from tests.testclient.test_replicas import named_together


async def test_served_with_its_parameters(aiohttp_client: Any) -> None:
    async with serve_in_process("http", InMemoryStore()) as served:
        app = await aiohttp_client(create_app(served.client_settings, connect))
        response = await app.post("/test_linearizability?seconds=0.5&clients=3&keys=2")
        assert response.status == 200
        result = await response.json()
    assert result["success"], result
    details = " ".join(check["detail"] for check in result["checks"])
    assert "by 3 clients on 2 keys" in details


@pytest.mark.parametrize("query", ["seconds=soon", "clients=0", "operations=-1"])
async def test_a_bad_parameter_fails_the_run_and_says_why(aiohttp_client: Any, query: str) -> None:
    async with serve_in_process("http", InMemoryStore()) as served:
        app = await aiohttp_client(create_app(served.client_settings, connect))
        result = await (await app.post(f"/test_linearizability?{query}")).json()
    assert not result["success"]
    assert [check["name"] for check in result["checks"]] == ["the parameters are valid"]


@pytest.mark.e2e
async def test_run_from_the_shell_prints_the_window_no_order_explains() -> None:
    async with serve_in_process("http", broken.AcknowledgesBeforeApplying()) as served:
        finished = await kv_testclient(
            "run",
            "linearizability",
            "--set",
            "seconds=1",
            "--url",
            served.client_settings.addresses["http"],
        )
    assert finished.status == 1, finished.stderr
    assert "NOT linearizable" in finished.stdout
    assert "no order of these" in finished.stdout


async def test_the_operation_budget_bounds_a_run(aiohttp_client: Any) -> None:
    async with serve_in_process("grpc", InMemoryStore()) as served:
        app = await aiohttp_client(create_app(served.client_settings, connect))
        result = await (await app.post("/test_linearizability?seconds=60&operations=50")).json()
    assert result["success"], result
    assert "50 operations by" in result["checks"][0]["detail"]


async def _run_over_replicas(first: ClientSettings, second: ClientSettings) -> ScenarioResult:
    settings = named_together(first, second)
    each = [partial(connect, replica) for replica in replicas(settings)]
    return await run_scenario(
        "linearizability", partial(connect, settings), {"seconds": "1"}, replicas=each
    )


@pytest.mark.parametrize("transport", SERVED_TRANSPORTS)
async def test_passes_over_two_replicas_of_one_store(transport: str) -> None:
    store = InMemoryStore()
    async with (
        serve_in_process(transport, store) as first,
        serve_in_process(transport, store) as second,
    ):
        result = await _run_over_replicas(first.client_settings, second.client_settings)
    assert result.success, [check.detail for check in result.failed_checks]


@pytest.mark.parametrize("transport", SERVED_TRANSPORTS)
async def test_fails_over_two_servers_that_do_not_share_a_store(transport: str) -> None:
    async with serve_in_process(transport) as first, serve_in_process(transport) as second:
        result = await _run_over_replicas(first.client_settings, second.client_settings)
    assert result.error is None
    assert not result.success
