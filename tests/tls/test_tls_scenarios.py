"""Every test-client scenario passes against a server that demands mutual TLS, on each transport."""

from __future__ import annotations

import pytest

from testclient.config import connect
from testclient.runner import run_scenarios
from testclient.scenarios import SCENARIOS
from tests.inprocess import TRANSPORT_NAMES, serve_in_process
from tests.tls.certificates import Issued, Pki
from tests.tls.conftest import tls_settings


@pytest.mark.slow  # every scenario, end to end
@pytest.mark.parametrize("transport", TRANSPORT_NAMES)
async def test_every_scenario_passes_over_mutual_tls(
    transport: str, pki: Pki, served_files: Issued
) -> None:
    names = sorted(SCENARIOS)  # watch proves nothing, and passes, where a protocol has none
    async with serve_in_process(
        transport,
        client_tls=pki.trusting(pki.client),
        **tls_settings(served_files, client_ca=pki.ca.cert),
    ) as served:
        results = await run_scenarios(names, lambda: connect(served.client_settings))
    assert [result.test for result in results] == names
    failed = {
        result.test: result.error or result.failed_checks
        for result in results
        if not result.success
    }
    assert not failed, failed
