"""Fixtures shared by every test package."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from structlog.contextvars import merge_contextvars
from structlog.processors import format_exc_info
from structlog.testing import capture_logs

from kv.observability.logs import name_the_logger
from tests.etcd.cluster import stop_shared_cluster
from tests.servers import KvServer, start_kv_server


@pytest.fixture
def kv_server(tmp_path: Path) -> Iterator[KvServer]:
    """A real `kv-server` (console script) with the in-memory store over HTTP."""
    server = start_kv_server(tmp_path)
    yield server
    server.process.stop()


@pytest.fixture
def log_lines() -> Iterator[list[dict[str, Any]]]:
    """Every structlog line of the test as a dict: `event`, `log_level`, `logger`, the request
    id bound when it was logged, an `exception` traceback, and the line's own fields."""
    with capture_logs(processors=[name_the_logger, merge_contextvars, format_exc_info]) as lines:
        yield lines


@pytest.fixture(scope="session", autouse=True)
def _stop_the_shared_etcd_cluster() -> Iterator[None]:
    """Stops the etcd cluster that tests over etcd share, if one was started (by PID)."""
    yield
    stop_shared_cluster()
