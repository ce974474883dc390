"""kv over etcd as users run it: docker-compose.cluster.yml (3 etcd members, 2 kv replicas, the
test client), the test client's full run against each replica over HTTP and gRPC, then the same
with one etcd member stopped.

Needs a Docker engine (KV_DOCKER_TESTS=1, `make test-docker`) and the etcd image: etcd's
official one, or where no registry answers the stand-in `ETCD_IMAGE=$(.ci/etcd-image.sh)` (CI).
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from testclient.scenarios import SCENARIOS
from tests.docker.compose import PROJECT_PREFIX, compose_command, docker_inspect, run
from tests.servers import free_port

pytestmark = [
    pytest.mark.docker,
    pytest.mark.skipif(
        not os.environ.get("KV_DOCKER_TESTS"),
        reason="needs a Docker engine: run `make test-docker`",
    ),
]

COMPOSE_FILE = "docker-compose.cluster.yml"
SERVICES = ("etcd1", "etcd2", "etcd3", "kv1", "kv2", "testclient")
HEALTHY_TIMEOUT = 180.0
RUN_TIMEOUT = 300.0


@dataclass
class ClusterStack:
    """The services of docker-compose.cluster.yml under one compose project, on free host ports."""

    project: str = field(default_factory=lambda: f"{PROJECT_PREFIX}-etcd-{uuid.uuid4().hex[:8]}")
    ports: dict[str, str] = field(
        default_factory=lambda: {
            name: str(free_port())
            for name in (
                "KV1_HTTP_HOST_PORT",
                "KV1_GRPC_HOST_PORT",
                "KV2_HTTP_HOST_PORT",
                "KV2_GRPC_HOST_PORT",
                "TESTCLIENT_HOST_PORT",
            )
        }
    )

    def compose(self, *args: str, timeout: float = RUN_TIMEOUT) -> str:
        command = [*compose_command(), "-f", COMPOSE_FILE, "-p", self.project, *args]
        return run(command, env={**os.environ, **self.ports}, timeout=timeout)

    def container(self, service: str) -> str:
        found = self.compose("ps", "-q", service).split()
        assert found, f"no container for {service} in {self.project}"
        return found[0]

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + HEALTHY_TIMEOUT
        pending = list(SERVICES)
        while pending:
            state = docker_inspect(self.container(pending[0]))["State"]
            if state.get("Health", {}).get("Status") == "healthy":
                pending.pop(0)
            elif time.monotonic() > deadline:
                logs = self.compose("logs", "--no-color", "--tail", "30", timeout=60)
                raise AssertionError(f"{pending[0]} not healthy: {state}\n{logs}")
            else:
                time.sleep(1)

    def full_run(self, first: str, transport: str) -> dict[str, object]:
        """`kv-testclient run --json` inside the test-client container, over both replicas:
        `first` serves every scenario, and `replicas` writes through each, reads through both."""
        second = "kv2" if first == "kv1" else "kv1"
        out = self.compose(
            "exec",
            "-T",
            "testclient",
            "kv-testclient",
            "run",
            *SCENARIOS,
            "--json",
            "--transport",
            transport,
            "--url",
            f"http://{first}:8080,http://{second}:8080",
            "--target",
            f"{first}:50051,{second}:50051",
        )
        report: dict[str, object] = json.loads(out)
        return report


@pytest.fixture(scope="module")
def stack() -> Iterator[ClusterStack]:
    stack = ClusterStack()
    try:
        stack.compose("up", "-d", "--build")
        stack.wait_healthy()
        yield stack
    finally:
        stack.compose("down", "--remove-orphans", "-v")


@pytest.mark.parametrize("transport", ["http", "grpc"])
@pytest.mark.parametrize("first", ["kv1", "kv2"])
def test_every_scenario_passes_against_each_replica(
    stack: ClusterStack, first: str, transport: str
) -> None:
    report = stack.full_run(first, transport)
    assert report["success"], json.dumps(report, indent=1)
    assert "replicas" in {result["test"] for result in report["results"]}  # type: ignore[attr-defined]


def test_every_scenario_still_passes_with_one_etcd_member_stopped(stack: ClusterStack) -> None:
    run(["docker", "stop", "--time", "5", stack.container("etcd2")], timeout=60)
    for first in ("kv1", "kv2"):
        for transport in ("http", "grpc"):
            report = stack.full_run(first, transport)
            assert report["success"], json.dumps(report, indent=1)
