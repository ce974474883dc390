"""A real `kv-server` serving HTTP and gRPC on loopback, for the hostile probes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import KvServer, start_kv_server

# Every request's access line (KV_ACCESS_LOG, once h10-core's request scope is in).
BOTH = {"TRANSPORT": "http,grpc", "KV_ACCESS_LOG": "all"}


def access_lines(log: str) -> list[tuple[str, str]]:
    """(method, status) of each access line: the fields of either log format of this project."""
    lines = []
    for line in log.splitlines():
        entry = json.loads(line)
        if entry.get("logger") == "kv.access":
            method = entry.get("method", entry.get("operation", ""))
            lines.append((str(method), str(entry.get("status", entry.get("outcome", "")))))
    return lines


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KvServer]:
    """One server for a module's probes that leave it as they found it (in-memory store)."""
    server = start_kv_server(tmp_path_factory.mktemp("hostile"), BOTH)
    yield server
    assert server.process.stop() == 0, server.process.log()


def start_both(tmp_path: Path, **env: str) -> KvServer:
    """A server of its own for a probe that loads, stops or breaks it."""
    return start_kv_server(tmp_path, {**BOTH, **env})
