"""Every scenario against a server that requires a token, over every transport: the test client
sends KV_TOKEN its transport's way (HTTP header, gRPC metadata, RESP HELLO AUTH), and fails
each scenario when it sends none."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from testclient.config import connect
from testclient.runner import run_scenario
from testclient.scenarios import SCENARIOS
from tests.access.secured import ADMIN_TOKEN, serve_secured
from tests.inprocess import Served
from tests.testclient.conftest import SERVED_TRANSPORTS

WATCH_TRANSPORTS = {"http", "grpc"}


@pytest.fixture(params=SERVED_TRANSPORTS)
async def secured(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Served]:
    async with serve_secured(request.param, tmp_path) as served:
        yield served


def scenarios_of(transport: str) -> list[str]:
    return [name for name in sorted(SCENARIOS) if name != "watch" or transport in WATCH_TRANSPORTS]


async def test_every_scenario_passes_with_the_token(secured: Served) -> None:
    settings = replace(secured.client_settings, token=ADMIN_TOKEN)
    for name in scenarios_of(settings.transport):
        result = await run_scenario(name, lambda: connect(settings))
        failed = [f"{check.name}: {check.detail}" for check in result.failed_checks]
        assert result.success, (name, failed)
        assert result.error is None


async def test_without_the_token_a_scenario_fails(secured: Served) -> None:
    result = await run_scenario("overwrite", lambda: connect(secured.client_settings))
    assert not result.success
    assert any("AccessDenied" in check.detail for check in result.failed_checks)
