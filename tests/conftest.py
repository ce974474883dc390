"""Fixtures shared by every test package."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.etcd.cluster import stop_shared_cluster
from tests.servers import KvServer, start_kv_server


@pytest.fixture
def kv_server(tmp_path: Path) -> Iterator[KvServer]:
    """A real `kv-server` (console script) with the in-memory store over HTTP."""
    server = start_kv_server(tmp_path)
    yield server
    server.process.stop()


@pytest.fixture(scope="session", autouse=True)
def _stop_the_shared_etcd_cluster() -> Iterator[None]:
    """Stops the etcd cluster that tests over etcd share, if one was started (by PID)."""
    yield
    stop_shared_cluster()
