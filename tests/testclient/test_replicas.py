"""The `replicas` scenario and the settings that name replicas.

It must fail against two kv-servers that do not share a store (each serves
only what was written through it), and pass where every address reaches one
consistent service.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial

import pytest

from testclient.config import ClientSettings, ConfigError, connect, replicas
from testclient.runner import ScenarioResult, run_scenario
from tests.inprocess import serve_in_process
from tests.testclient.conftest import SERVED_TRANSPORTS


async def run_replicas(settings: ClientSettings) -> ScenarioResult:
    each = [partial(connect, replica) for replica in replicas(settings)]
    return await run_scenario("replicas", partial(connect, settings), replicas=each)


def named_together(first: ClientSettings, second: ClientSettings) -> ClientSettings:
    """`first` with both services' addresses as a comma list: two replicas."""
    return replace(
        first,
        addresses={
            name: f"{address},{second.addresses[name]}" for name, address in first.addresses.items()
        },
    )


@pytest.mark.parametrize("transport", SERVED_TRANSPORTS)
async def test_fails_against_two_servers_that_do_not_share_a_store(transport: str) -> None:
    async with (
        serve_in_process(transport) as first,
        serve_in_process(transport) as second,
    ):
        result = await run_replicas(named_together(first.client_settings, second.client_settings))
    assert result.error is None
    assert not result.success
    failed = {check.name for check in result.failed_checks}
    assert "write through replica 1 is read at once through replica 2" in failed
    assert "write through replica 2 is read at once through replica 1" in failed
    sequence = next(check for check in result.checks if "one increasing sequence" in check.name)
    assert not sequence.passed, sequence.detail


@pytest.mark.parametrize("transport", SERVED_TRANSPORTS)
async def test_passes_when_every_address_reaches_one_service(transport: str) -> None:
    async with serve_in_process(transport) as served:
        # Two, then three, connections named as replicas of the one server.
        for copies in (2, 3):
            settings = served.client_settings
            result = await run_replicas(
                replace(
                    settings,
                    addresses={
                        name: ",".join([address] * copies)
                        for name, address in settings.addresses.items()
                    },
                )
            )
            failures = [f"{check.name}: {check.detail}" for check in result.failed_checks]
            assert result.success, failures
            names = [check.name for check in result.checks]
            assert f"write through replica {copies} is read at once through replica 1" in names
            assert not any("only one replica" in check.detail for check in result.checks)


async def test_one_replica_named_passes_and_says_so() -> None:
    async with serve_in_process("http") as served:
        result = await run_replicas(served.client_settings)
    assert result.success, [check.detail for check in result.failed_checks]
    assert any("only one replica is named" in check.detail for check in result.checks)


def test_comma_lists_name_one_replica_each() -> None:
    settings = ClientSettings.from_env(
        {"KV_URL": "http://a:8080, http://b:8080", "KV_GRPC_TARGET": "a:50051,b:50051,c:50051"}
    )
    assert [each.addresses["http"] for each in replicas(settings, "http")] == [
        "http://a:8080",
        "http://b:8080",
    ]
    assert [each.addresses["grpc"] for each in replicas(settings, "grpc")] == [
        "a:50051",
        "b:50051",
        "c:50051",
    ]
    assert replicas(ClientSettings()) == (ClientSettings(),)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("KV_URL", "http://a:8080,,http://b:8080"),
        ("KV_URL", "http://a:8080,b:8080"),
        ("KV_URL", "ftp://a"),
        ("KV_GRPC_TARGET", "a:1, ,b:2"),
    ],
)
def test_a_malformed_list_names_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigError, match=f"^{variable}: "):
        ClientSettings.from_env({variable: value})
