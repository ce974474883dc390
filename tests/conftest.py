"""Fixtures shared by every test package, and the test tiers (docs/testing.md, "Tiers").

A directory that is one tier marks every test in it (`TIER_OF_DIRECTORY`); a test
elsewhere that belongs to a tier carries the marker itself (`@pytest.mark.slow`, or the
`etcd` parameter of the contract suites).
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from structlog.contextvars import merge_contextvars
from structlog.processors import format_exc_info
from structlog.testing import capture_logs

from kv.observability.logs import add_request_id, name_the_logger
from tests.etcd.cluster import stop_shared_cluster
from tests.servers import KvServer, start_kv_server, stop_every_process


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
    with capture_logs(
        processors=[name_the_logger, merge_contextvars, add_request_id, format_exc_info]
    ) as lines:
        yield lines


# tests/<directory>/ -> the marker every test in it gets (markers: pyproject.toml).
TIER_OF_DIRECTORY = {
    "browser": "browser",
    "docker": "docker",
    "e2e": "e2e",
    "etcd": "etcd",
    "hostile": "hostile",
}
TESTS = Path(__file__).parent


@pytest.hookimpl(tryfirst=True)  # before `-m` selects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if not item.path.is_relative_to(TESTS):
            continue
        parts = item.path.relative_to(TESTS).parts
        tier = TIER_OF_DIRECTORY.get(parts[0]) if len(parts) > 1 else None
        if tier is not None:
            item.add_marker(tier)


def pytest_configure(config: pytest.Config) -> None:
    # SIGTERM (a CI step's time limit, `kill`) ends the run as Ctrl-C does, through the
    # session's teardown, which stops the processes the run started; by default Python
    # would die at once and leave them running.
    signal.signal(signal.SIGTERM, _interrupt)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.fixture(scope="session", autouse=True)
def _stop_what_the_session_started() -> Iterator[None]:
    """Stops the etcd cluster that tests over etcd share, if one was started, then every
    process a test started and left running (a failed or interrupted test), by PID."""
    yield
    try:
        stop_shared_cluster()
    finally:
        _LEFT_RUNNING.extend(stop_every_process())


_LEFT_RUNNING: list[str] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _LEFT_RUNNING:
        shown = "; ".join(_LEFT_RUNNING)
        terminalreporter.write_line(f"left running by tests, stopped at the end: {shown}")
