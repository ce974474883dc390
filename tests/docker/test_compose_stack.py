"""The product as users run it: docker-compose.yml with TRANSPORT=http, grpc and then resp.

Talks to the containers from the host the way the README does: curl to the test client and to
the HTTP transport, grpcurl to the gRPC one, redis-cli to the RESP one. Needs a Docker engine,
so it runs only when KV_DOCKER_TESTS=1 (`make test-docker`); then a missing engine is a
failure, not a skip.

The tests of one stack run in the order written: the stack comes up for the first and is stopped
and removed by the last two. A check that data outlives the containers (a durable KV_STORE) fits
between them: write, `stack.down(volumes=False)`, `stack.up()`, read.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.docker.compose import ComposeStack, docker_inspect, run

pytestmark = [
    pytest.mark.docker,
    pytest.mark.skipif(
        not os.environ.get("KV_DOCKER_TESTS"),
        reason="needs a Docker engine: run `make test-docker`",
    ),
]

GRPCURL = str(Path(sys.executable).parent / "grpcurl")
CURL_TIMEOUT = 120  # seconds; a full scenario run takes a few seconds


def curl(*args: str) -> tuple[int, Any]:
    """curl from the host; the HTTP status and the parsed JSON body."""
    out = run(
        [
            "curl",
            "--silent",
            "--show-error",
            "--max-time",
            str(CURL_TIMEOUT),
            "--write-out",
            "\n%{http_code}",
            *args,
        ],
        timeout=CURL_TIMEOUT + 10,
    )
    body, _, status = out.rpartition("\n")
    return int(status), json.loads(body) if body else None


def grpcurl(target: str, method: str, request: dict[str, Any] | None = None) -> Any:
    """grpcurl from the host (server reflection, as the README shows); the parsed reply."""
    args = [GRPCURL, "-plaintext", "-max-time", "30"]
    if request is not None:
        args += ["-d", json.dumps(request)]
    return json.loads(run([*args, target, method], timeout=60))


@pytest.fixture(scope="session")
def images() -> None:
    """Build both images once (PYTHON_IMAGE from the environment reaches the build)."""
    ComposeStack("http").build()


def redis_cli(port: int, *args: str) -> str:
    """redis-cli from the host (Debian's redis-tools), one command; what it printed."""
    return run(["redis-cli", "-p", str(port), *args], timeout=60).strip()


def kv_put_over_resp(port: int, key: str, value: Any) -> dict[str, str]:
    """KV.PUT from the host; the reply's fields (redis-cli prints field, value, ... lines)."""
    lines = redis_cli(port, "KV.PUT", key, json.dumps(value)).splitlines()
    return dict(zip(lines[::2], lines[1::2], strict=True))


@pytest.fixture(scope="module", params=["http", "grpc", "resp"])
def stack(request: pytest.FixtureRequest, images: None) -> Iterator[ComposeStack]:
    stack = ComposeStack(request.param)
    try:
        stack.up()
        yield stack
    finally:
        # Also when a test failed half-way; the last test checks that this leaves nothing.
        stack.down()


def test_both_services_become_healthy(stack: ComposeStack) -> None:
    for service in ("kv", "testclient"):
        state = docker_inspect(stack.container(service))["State"]
        assert state["Health"]["Status"] == "healthy", service


def test_every_scenario_passes_in_one_run(stack: ComposeStack) -> None:
    status, report = curl("-X", "POST", f"{stack.testclient_url}/tests/run")
    assert status == 200, report
    failed = [result for result in report["results"] if not result["success"]]
    assert report["success"] is True, json.dumps(failed, indent=1)
    assert {result["transport"] for result in report["results"]} == {stack.transport}


def test_each_scenario_passes_on_its_own(stack: ComposeStack) -> None:
    status, listing = curl(f"{stack.testclient_url}/tests")
    assert status == 200
    names = listing["tests"]
    assert {"deletion", "overwrite"} <= set(names)
    for name in names:
        status, result = curl("-X", "POST", f"{stack.testclient_url}/test_{name}")
        assert (status, result["success"]) == (200, True), json.dumps(result, indent=1)
        assert (result["test"], result["transport"]) == (name, stack.transport)


def test_kv_answers_from_the_host(stack: ComposeStack) -> None:
    key = f"docker/{stack.project}"
    if stack.transport == "http":
        url = f"{stack.kv_url}/v1/kv/{key}"
        status, put = curl(
            "-X",
            "PUT",
            "-H",
            "Content-Type: application/json",
            "--data",
            '{"value": {"from": "host"}}',
            url,
        )
        assert (status, put["created"]) == (201, True)
        status, got = curl(url)
        assert (status, got["value"], got["revision"]) == (200, {"from": "host"}, put["revision"])
        status, _ = curl("-X", "DELETE", url)
        assert status == 200
        assert curl(url)[0] == 404
    elif stack.transport == "resp":
        port = stack.resp_port
        assert redis_cli(port, "set", key, "from host") == "OK"
        assert redis_cli(port, "get", key) == "from host"
        assert redis_cli(port, "del", key) == "1"
        assert redis_cli(port, "exists", key) == "0"
    else:
        health = grpcurl(stack.grpc_target, "grpc.health.v1.Health/Check")
        assert health["status"] == "SERVING"
        put = grpcurl(
            stack.grpc_target, "kv.v1.KeyValue/Put", {"key": key, "value": {"from": "host"}}
        )
        got = grpcurl(stack.grpc_target, "kv.v1.KeyValue/Get", {"key": key})
        assert (got["value"], got["revision"]) == ({"from": "host"}, put["revision"])
        grpcurl(stack.grpc_target, "kv.v1.KeyValue/Delete", {"key": key})


def test_data_survives_down_and_up_without_v(stack: ComposeStack) -> None:
    # compose's default store is sqlite on the named volume kv-data: `down` removes the
    # containers but not the volume, so a new `kv` container finds every acknowledged write.
    key = f"docker/durable/{stack.project}"
    value = {"kept": stack.transport}
    if stack.transport == "http":
        url = f"{stack.kv_url}/v1/kv/{key}"
        headers = ["-H", "Content-Type: application/json"]
        status, put = curl("-X", "PUT", *headers, "--data", json.dumps({"value": value}), url)
        assert status == 201, put
    elif stack.transport == "resp":
        put = kv_put_over_resp(stack.resp_port, key, value)
    else:
        put = grpcurl(stack.grpc_target, "kv.v1.KeyValue/Put", {"key": key, "value": value})
    old_container = stack.container("kv")

    stack.down(volumes=False)
    stack.up()

    assert stack.container("kv") != old_container
    if stack.transport == "http":
        status, got = curl(f"{stack.kv_url}/v1/kv/{key}")
        assert status == 200, got
    elif stack.transport == "resp":
        lines = redis_cli(stack.resp_port, "KV.GET", key).splitlines()
        got = dict(zip(lines[::2], lines[1::2], strict=True))
        got["value"] = json.loads(got["value"])
    else:
        got = grpcurl(stack.grpc_target, "kv.v1.KeyValue/Get", {"key": key})
    assert (got["value"], int(got["revision"])) == (value, int(put["revision"]))


def test_sigterm_stops_each_container_gracefully(stack: ComposeStack) -> None:
    # `docker stop` sends SIGTERM to PID 1 and SIGKILL after the grace period: exit 0 (not 137)
    # means the process itself received SIGTERM, drained and exited cleanly.
    for service in ("testclient", "kv"):
        state = stack.stop(service)
        assert (state["ExitCode"], state["OOMKilled"]) == (0, False), (service, state)


def test_down_leaves_nothing_behind(stack: ComposeStack) -> None:
    stack.down()
    assert stack.leftovers() == {}
