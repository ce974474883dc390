"""A real `kv-server` serving HTTP and gRPC on loopback, for the hostile probes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import KvServer, start_kv_server

BOTH = {"TRANSPORT": "http,grpc"}


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KvServer]:
    """One server for a module's probes that leave it as they found it (in-memory store)."""
    server = start_kv_server(tmp_path_factory.mktemp("hostile"), BOTH)
    yield server
    assert server.process.stop() == 0, server.process.log()


def start_both(tmp_path: Path, **env: str) -> KvServer:
    """A server of its own for a probe that loads, stops or breaks it."""
    return start_kv_server(tmp_path, {**BOTH, **env})
