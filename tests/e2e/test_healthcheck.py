"""`python -m kv.healthcheck`, the container's HEALTHCHECK, against a real `kv-server`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kv.transports import TRANSPORTS
from tests.servers import KvServer, free_port, start_kv_server, wait_port_open

pytestmark = pytest.mark.e2e


def run_healthcheck(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kv.healthcheck"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=30,
    )


def server_env(server: KvServer, transport: str) -> dict[str, str]:
    """The environment the server runs with, as the container gives it to the check."""
    return {
        "TRANSPORT": transport,
        "KV_HTTP_PORT": str(server.http_port),
        "KV_GRPC_PORT": str(server.grpc_port),
    }


def test_healthy_when_http_is_ready(kv_server: KvServer) -> None:
    result = run_healthcheck(server_env(kv_server, "http"))
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif("grpc" not in TRANSPORTS, reason="the gRPC transport is not registered")
def test_healthy_over_grpc_health_when_only_grpc_is_served(tmp_path: Path) -> None:
    server = start_kv_server(tmp_path, {"TRANSPORT": "grpc"})
    try:
        result = run_healthcheck(server_env(server, "grpc"))
    finally:
        assert server.process.stop() == 0
    assert result.returncode == 0, result.stderr


def test_healthy_over_ping_when_only_resp_is_served(tmp_path: Path) -> None:
    port = free_port()
    server = start_kv_server(tmp_path, {"TRANSPORT": "resp", "KV_RESP_PORT": str(port)}, wait=False)
    try:
        wait_port_open(port, server.process)
        result = run_healthcheck({"TRANSPORT": "resp", "KV_RESP_PORT": str(port)})
    finally:
        assert server.process.stop() == 0
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("transport", tuple(TRANSPORTS))
def test_unhealthy_with_a_reason_when_nothing_listens(transport: str) -> None:
    env = {known.port.variable: str(free_port()) for known in TRANSPORTS.values()}
    result = run_healthcheck({**env, "TRANSPORT": transport})
    assert result.returncode == 1
    assert result.stderr.startswith("unhealthy: ")


def test_every_served_transport_is_probed(kv_server: KvServer) -> None:
    """HTTP answers, but RESP, also served, does not: unhealthy, naming RESP."""
    env = {**server_env(kv_server, "http,resp"), "KV_RESP_PORT": str(free_port())}
    result = run_healthcheck(env)
    assert result.returncode == 1
    assert result.stderr.startswith("unhealthy: RESP at "), result.stderr


def test_unhealthy_on_a_bad_setting() -> None:
    result = run_healthcheck({"KV_HTTP_PORT": "not-a-port"})
    assert result.returncode == 1
    assert "KV_HTTP_PORT" in result.stderr
