"""Every console script answers `--help` with its usage and exit 0, and starts nothing."""

from __future__ import annotations

import os
import socket
import subprocess

import pytest

from tests.servers import free_port, script

pytestmark = pytest.mark.e2e

# Each script's invocations that must print a usage text: a server started instead would
# run until the timeout, which fails the test.
HELP_INVOCATIONS = [
    ("kv-server", "--help"),
    ("kv-server", "-h"),
    ("kv", "--help"),
    ("kv", "get", "--help"),
    ("kv-testclient", "--help"),
    ("kv-testclient", "run", "--help"),
]


@pytest.mark.parametrize("invocation", HELP_INVOCATIONS, ids=" ".join)
def test_help_prints_a_usage_and_starts_nothing(invocation: tuple[str, ...]) -> None:
    name, *args = invocation
    port = free_port()
    env = {
        **os.environ,
        # Where a server would listen if `--help` started one; and settings a start would
        # refuse, which `--help` must not even read.
        "KV_HTTP_PORT": str(port),
        "TESTCLIENT_PORT": str(port),
        "KV_URL": "not a url",
        "KV_STORE": "no-such-store",
    }
    finished = subprocess.run(
        [script(name), *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.startswith(f"usage: {name}"), finished.stdout
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0, f"{name} --help left a listener"


def test_kv_server_refuses_an_unknown_argument_without_starting() -> None:
    finished = subprocess.run(
        [script("kv-server"), "--port", "1"], capture_output=True, text=True, timeout=60
    )
    assert finished.returncode == 2
    assert "usage: kv-server" in finished.stderr
