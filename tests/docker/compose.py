"""Driving this repository's docker-compose.yml from tests: one stack per compose project.

Every stack gets a project name of its own and free host ports, so it can run beside a developer's
stack or another test run; `down()` removes its containers, network and (by default) volumes.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.servers import free_port

REPO = Path(__file__).resolve().parents[2]
COMMAND_TIMEOUT = 300.0  # seconds; a build of both images takes well under a minute here
HEALTHY_TIMEOUT = 90.0
PROJECT_LABEL = "com.docker.compose.project"
# CI sets a prefix of its own, so that its exit trap can remove exactly its stacks if a run is cut.
PROJECT_PREFIX = os.environ.get("KV_COMPOSE_PROJECT_PREFIX", "kvtest")


def compose_command() -> list[str]:
    """`KV_COMPOSE` if set (e.g. "docker-compose"), else `docker compose` v2 when the plugin
    is there, else `docker-compose` v1: the compose file is written for both."""
    if os.environ.get("KV_COMPOSE"):
        return shlex.split(os.environ["KV_COMPOSE"])
    probe = subprocess.run(
        ["docker", "compose", "version"], capture_output=True, timeout=30, check=False
    )
    if probe.returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    raise RuntimeError("neither `docker compose` nor `docker-compose` is installed")


def run(
    args: list[str], *, env: dict[str, str] | None = None, timeout: float = COMMAND_TIMEOUT
) -> str:
    """Run a command; on failure raise with its output, which is what a failed test should show."""
    result = subprocess.run(
        args, env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        raise AssertionError(
            f"`{shlex.join(args)}` exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
        )
    return result.stdout


def docker_inspect(container: str) -> dict[str, Any]:
    """`docker inspect` of one container."""
    found: list[dict[str, Any]] = json.loads(run(["docker", "inspect", container]))
    return found[0]


@dataclass
class ComposeStack:
    """The `kv` and `testclient` services of docker-compose.yml under one compose project."""

    transport: str
    extra_env: dict[str, str] = field(default_factory=dict)
    project: str = field(default_factory=lambda: f"{PROJECT_PREFIX}-{uuid.uuid4().hex[:10]}")
    http_port: int = field(default_factory=free_port)
    grpc_port: int = field(default_factory=free_port)
    resp_port: int = field(default_factory=free_port)
    testclient_port: int = field(default_factory=free_port)

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "TRANSPORT": self.transport,
            "KV_HTTP_HOST_PORT": str(self.http_port),
            "KV_GRPC_HOST_PORT": str(self.grpc_port),
            "KV_RESP_HOST_PORT": str(self.resp_port),
            "TESTCLIENT_HOST_PORT": str(self.testclient_port),
            **self.extra_env,
        }

    @property
    def kv_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def testclient_url(self) -> str:
        return f"http://127.0.0.1:{self.testclient_port}"

    def compose(self, *args: str, timeout: float = COMMAND_TIMEOUT) -> str:
        return run([*compose_command(), "-p", self.project, *args], env=self.env, timeout=timeout)

    def build(self) -> None:
        self.compose("build")

    def up(self) -> None:
        """Start both services and wait until both report healthy."""
        self.compose("up", "-d")
        self.wait_healthy("kv", "testclient")

    def container(self, service: str) -> str:
        """The id of the service's container (running or stopped)."""
        found = self.compose("ps", "-q", service).split()
        assert found, f"no container for {service} in {self.project}"
        return found[0]

    def wait_healthy(self, *services: str, timeout: float = HEALTHY_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        pending = list(services)
        while pending:
            state = docker_inspect(self.container(pending[0]))["State"]
            health = state.get("Health", {}).get("Status")
            if health == "healthy":
                pending.pop(0)
                continue
            if health == "unhealthy" or not state["Running"] or time.monotonic() > deadline:
                raise AssertionError(f"{pending[0]} is {health or state['Status']}:\n{self.logs()}")
            time.sleep(0.5)

    def stop(self, service: str, grace: int = 15) -> dict[str, Any]:
        """`docker stop` (SIGTERM, SIGKILL after `grace` s) the service; its State after."""
        container = self.container(service)
        run(["docker", "stop", "--time", str(grace), container], timeout=grace + 30)
        state: dict[str, Any] = docker_inspect(container)["State"]
        return state

    def logs(self) -> str:
        return self.compose("logs", "--no-color", "--tail", "50", timeout=60)

    def down(self, *, volumes: bool = True) -> None:
        """Remove the containers and the network; the named volume too unless `volumes` is
        False (a later `up()` then finds the data the store left there)."""
        self.compose("down", "--remove-orphans", *(["-v"] if volumes else []))

    def leftovers(self) -> dict[str, list[str]]:
        """Containers, networks and volumes still labelled with this project."""
        label = f"label={PROJECT_LABEL}={self.project}"
        listings = {
            "containers": ["docker", "ps", "-aq", "--filter", label],
            "networks": ["docker", "network", "ls", "-q", "--filter", label],
            "volumes": ["docker", "volume", "ls", "-q", "--filter", label],
        }
        found = {kind: run(args, timeout=60).split() for kind, args in listings.items()}
        return {kind: ids for kind, ids in found.items() if ids}
