"""Real Redis tools against the real `kv-server` over RESP: redis-cli (one-shot and
interactive, on a pseudo-terminal), redis-benchmark, redis-py in RESP2 and RESP3, and `kv`.

redis-cli and redis-benchmark come from Debian's redis-tools, which `.ci/run`
installs: without them these tests skip, except in CI (CI=true), where they fail.
"""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.installed import redis_tool
from tests.servers import KvServer, free_port, run_kv, start_kv_server

pytestmark = pytest.mark.e2e

# Generous: the machine is shared; nothing here measures time.
DEADLINE = 30.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[KvServer, int]]:
    """kv-server serving RESP (and HTTP, whose /readyz says when it is up)."""
    port = free_port()
    tmp_path: Path = tmp_path_factory.mktemp("resp")
    started = start_kv_server(tmp_path, {"TRANSPORT": "resp,http", "KV_RESP_PORT": str(port)})
    yield started, port
    assert started.process.stop() == 0


def cli(port: int, *args: str) -> str:
    done = subprocess.run(
        [redis_tool("redis-cli"), "-p", str(port), *args],
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        check=True,
    )
    return done.stdout.strip()


def test_redis_cli_one_shot(server: tuple[KvServer, int]) -> None:
    _, port = server
    assert cli(port, "ping") == "PONG"
    assert cli(port, "set", "cli:greeting", "hello world") == "OK"
    assert cli(port, "get", "cli:greeting") == "hello world"
    assert cli(port, "kv.put", "cli:doc", '{"a": [1, 2]}').splitlines()[:4] == [
        "key",
        "cli:doc",
        "value",
        '{"a":[1,2]}',
    ]
    assert cli(port, "get", "cli:doc") == '{"a":[1,2]}'
    assert cli(port, "del", "cli:greeting", "cli:doc", "cli:none") == "2"
    assert cli(port, "nosuchcommand").startswith("ERR unknown command")
    assert cli(port, "command", "docs") == ""


def test_redis_cli_scan_and_a_transaction(server: tuple[KvServer, int]) -> None:
    """`redis-cli --scan` reads every page (its cursors fit in 64 bits); MULTI/EXEC from a
    script of commands on one connection applies them together."""
    _, port = server
    keys = [f"scan:{n:03d}" for n in range(35)]
    assert cli(port, "mset", *[word for key in keys for word in (key, "v")]) == "OK"
    scanned = cli(port, "--scan", "--pattern", "scan:*").splitlines()
    assert sorted(scanned) == keys
    done = subprocess.run(
        [redis_tool("redis-cli"), "-p", str(port)],
        input="MULTI\nSET cli:t1 a\nINCR cli:n\nEXEC\n",
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        check=True,
    )
    assert done.stdout.split() == ["OK", "QUEUED", "QUEUED", "OK", "1"]
    assert cli(port, "keys", "cli:*").split() == ["cli:n", "cli:t1"]


class Terminal:
    """A program on a pseudo-terminal, as a person at a keyboard runs it."""

    def __init__(self, *args: str) -> None:
        self.master, follower = pty.openpty()
        # TERM=dumb: line editing without asking the terminal where the cursor is.
        self.process = subprocess.Popen(
            args,
            stdin=follower,
            stdout=follower,
            stderr=follower,
            env={**os.environ, "TERM": "dumb"},
        )
        os.close(follower)
        self.seen = b""

    def type(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\r")

    def expect(self, text: str) -> None:
        deadline = time.monotonic() + DEADLINE
        while text.encode() not in self.seen:
            assert time.monotonic() < deadline, f"{text!r} not shown; the screen:\n{self.seen!r}"
            ready, _, _ = select.select([self.master], [], [], 0.2)
            if ready:
                self.seen += os.read(self.master, 4096)
        self.seen = self.seen[self.seen.index(text.encode()) + len(text) :]

    def close(self) -> int:
        try:
            return self.process.wait(DEADLINE)
        finally:
            os.close(self.master)


def test_redis_cli_interactive(server: tuple[KvServer, int]) -> None:
    _, port = server
    prompt = f"127.0.0.1:{port}> "
    terminal = Terminal(redis_tool("redis-cli"), "-p", str(port))
    terminal.expect(prompt)
    terminal.type("set tty:key 'two words'")
    terminal.expect("OK")
    terminal.type("get tty:key")
    terminal.expect('"two words"')
    terminal.type("kv.get tty:key")
    terminal.expect('"revision"')
    terminal.type("get tty:key extra")
    terminal.expect("(error) ERR wrong number of arguments for 'get' command")
    terminal.type("quit")
    assert terminal.close() == 0


def test_redis_benchmark_runs_against_kv(server: tuple[KvServer, int]) -> None:
    _, port = server
    done = subprocess.run(
        [
            redis_tool("redis-benchmark"),
            "-p",
            str(port),
            "-t",
            "set,get",
            "-n",
            "2000",
            "-c",
            "10",
            "-q",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    output = done.stdout + done.stderr
    assert "SET:" in output
    assert "GET:" in output
    assert "WARNING" not in output  # it read CONFIG GET save / appendonly


@pytest.mark.parametrize("protocol", [2, 3])
def test_redis_py(server: tuple[KvServer, int], protocol: int) -> None:
    _, port = server
    client = redis.Redis(port=port, protocol=protocol, decode_responses=True)
    try:
        key = f"py{protocol}:key"
        assert client.set(key, "value") is True
        assert client.get(key) == "value"
        assert client.set(key, "other", nx=True) is None
        assert client.getdel(key) == "value"
        assert client.exists(key) == 0
    finally:
        client.close()


def test_kv_cli_over_resp(server: tuple[KvServer, int]) -> None:
    _, port = server
    url = ["--transport", "resp", "--resp-url", f"redis://127.0.0.1:{port}"]
    put = run_kv(*url, "put", "cli:kv", '{"n": 1}')
    assert put.returncode == 0, put.stderr
    written = json.loads(put.stdout)
    assert (written["value"], written["created"]) == ({"n": 1}, True)
    got = run_kv(*url, "get", "cli:kv")
    assert json.loads(got.stdout)["revision"] == written["revision"]
    assert run_kv(*url, "delete", "cli:kv").returncode == 0
    missing = run_kv(*url, "get", "cli:kv")
    assert missing.returncode == 1
