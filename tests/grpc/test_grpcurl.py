"""docs/grpc-api.md's grpcurl examples, run verbatim (but for the port) against a real kv-server."""

from __future__ import annotations

import json
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import KvServer, script, start_kv_server

pytestmark = pytest.mark.e2e

PAGE = Path(__file__).resolve().parents[2] / "docs" / "grpc-api.md"
PAGE_TARGET = "localhost:50051"


def readme_grpcurl_lines() -> list[str]:
    """The `grpcurl` command lines of docs/grpc-api.md, in order."""
    return [line for line in PAGE.read_text().splitlines() if line.startswith("grpcurl ")]


@pytest.fixture
def grpc_server(tmp_path: Path) -> Iterator[KvServer]:
    server = start_kv_server(tmp_path, {"TRANSPORT": "http,grpc"})
    yield server
    server.process.stop()


def run(line: str, server: KvServer) -> subprocess.CompletedProcess[str]:
    args = shlex.split(line.replace(PAGE_TARGET, server.grpc_target))
    return subprocess.run(
        [script("grpcurl"), *args[1:]], capture_output=True, text=True, timeout=30, check=False
    )


def test_readme_grpcurl_examples_work_as_documented(grpc_server: KvServer) -> None:
    lines = readme_grpcurl_lines()
    assert len(lines) == 7, lines
    results = [run(line, grpc_server) for line in lines]
    listed, put, get, replaced, deleted, missing, health = results
    for result in (listed, put, get, replaced, deleted, health):
        assert result.returncode == 0, result.stderr

    assert listed.stdout.split() == [
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
        "kv.v1.KeyValue",
    ]
    # Revisions depend on the store's history (the page shows R1, R2): only their order is fixed.
    created = json.loads(put.stdout)
    first = created.pop("revision")
    assert created == {"key": "a", "value": "x", "created": True}
    assert json.loads(get.stdout) == {"key": "a", "value": "x", "revision": first}
    # grpcurl leaves out fields at their default value: here `"created": false`.
    second = json.loads(replaced.stdout).pop("revision")
    assert int(second) > int(first)
    assert json.loads(replaced.stdout) == {"key": "a", "value": {"n": 1}, "revision": second}
    assert json.loads(deleted.stdout) == {"key": "a", "value": {"n": 1}, "revision": second}
    assert missing.returncode == 69  # grpcurl exits 64 + the status code (NOT_FOUND = 5)
    assert "Code: NotFound" in missing.stderr
    assert "Message: no such key: 'a'" in missing.stderr
    assert json.loads(health.stdout) == {"status": "SERVING"}
