"""Access control through the real `kv-server`: redis-cli and redis-benchmark with `-a`, `kv`
with KV_TOKEN over every transport, SIGHUP re-reading the auth file without dropping
connections, and a broken auth file stopping start-up with exit 2.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from kv.domain.access import token_digest
from tests.access.secured import ADMIN_TOKEN, APP_TOKEN, WRONG_TOKEN, write_auth_file
from tests.installed import redis_tool
from tests.servers import KvServer, free_port, script, start_kv_server

pytestmark = pytest.mark.e2e

DEADLINE = 60.0


class Secured:
    def __init__(self, server: KvServer, resp_port: int, auth_file: Path) -> None:
        self.server = server
        self.resp_port = resp_port
        self.auth_file = auth_file


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[Secured]:
    resp_port = free_port()
    auth_file = write_auth_file(tmp_path)
    server = start_kv_server(
        tmp_path,
        {
            "TRANSPORT": "http,grpc,resp",
            "KV_RESP_PORT": str(resp_port),
            "KV_AUTH_FILE": str(auth_file),
        },
    )
    yield Secured(server, resp_port, auth_file)
    assert server.process.stop() == 0


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        check=False,
        env={**os.environ, **(env or {})},
    )


def test_redis_cli_with_a_password_and_with_a_user(secured: Secured) -> None:
    cli = redis_tool("redis-cli")
    port = str(secured.resp_port)
    done = run(cli, "-p", port, "set", "app/cli", "v")
    assert "NOAUTH Authentication required." in done.stdout
    done = run(cli, "-p", port, "-a", APP_TOKEN, "--no-auth-warning", "set", "app/cli", "v")
    assert done.stdout.strip() == "OK"
    done = run(cli, "-p", port, "--user", "app", "--pass", APP_TOKEN, "get", "app/cli")
    assert done.stdout.strip() == "v"
    done = run(cli, "-p", port, "-a", APP_TOKEN, "--no-auth-warning", "set", "shared/x", "v")
    assert done.stdout.startswith("NOPERM")
    done = run(cli, "-p", port, "-a", WRONG_TOKEN, "--no-auth-warning", "get", "app/cli")
    assert "WRONGPASS" in done.stdout + done.stderr
    assert WRONG_TOKEN not in secured.server.process.log()
    assert APP_TOKEN not in secured.server.process.log()


def test_redis_benchmark_with_a_password(secured: Secured) -> None:
    done = run(
        redis_tool("redis-benchmark"),
        *("-p", str(secured.resp_port), "-a", ADMIN_TOKEN, "-t", "set,get"),
        *("-n", "2000", "-c", "10", "-q"),
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "SET:" in output, output
    assert "NOAUTH" not in output, output
    assert "NOPERM" not in output, output
    # What it wrote is there: its key, with a 3-byte value.
    check = redis.Redis(port=secured.resp_port, password=ADMIN_TOKEN, socket_timeout=DEADLINE)
    try:
        assert len(check.get("key:__rand_int__") or b"") == 3
    finally:
        check.close()


@pytest.mark.parametrize("transport", ["http", "grpc", "resp"])
def test_kv_sends_kv_token_over_every_transport(secured: Secured, transport: str) -> None:
    server = secured.server
    env = {
        "KV_URL": server.url,
        "KV_GRPC_TARGET": server.grpc_target,
        "KV_RESP_URL": f"redis://127.0.0.1:{secured.resp_port}",
        "TRANSPORT": transport,
    }
    kv = script("kv")
    key = f"app/kv-{transport}"
    refused = run(kv, "put", key, '"v"', env=env)
    assert refused.returncode == 2
    done = run(kv, "put", key, '"v"', env={**env, "KV_TOKEN": APP_TOKEN})
    assert done.returncode == 0, done.stderr
    done = run(kv, "get", key, env={**env, "KV_TOKEN": APP_TOKEN})
    assert '"value": "v"' in done.stdout or '"value":"v"' in done.stdout
    denied = run(kv, "put", "shared/x", '"v"', env={**env, "KV_TOKEN": APP_TOKEN})
    assert denied.returncode == 2
    assert APP_TOKEN not in denied.stderr + denied.stdout


def eventually(check: object, what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_sighup_rereads_the_auth_file_and_keeps_connections(secured: Secured) -> None:
    rotated = "rotated-token-0123456789abcdef"
    before = redis.Redis(port=secured.resp_port, password=APP_TOKEN, socket_timeout=DEADLINE)
    try:
        assert before.set("app/before", "1")
        secured.auth_file.write_text(
            secured.auth_file.read_text().replace(token_digest(APP_TOKEN), token_digest(rotated))
        )
        secured.server.process.signal(signal.SIGHUP)

        def rotated_works() -> bool:
            client = redis.Redis(port=secured.resp_port, password=rotated, socket_timeout=DEADLINE)
            try:
                return bool(client.set("app/after", "1"))
            except redis.AuthenticationError:
                return False
            finally:
                client.close()

        eventually(rotated_works, "the rotated token was never accepted")
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=secured.resp_port, password=APP_TOKEN, socket_timeout=DEADLINE).get(
                "app/x"
            )
        # The connection authenticated before the reload is still open and still served.
        assert before.get("app/before") == b"1"

        secured.auth_file.write_text("[[principal]\n")
        secured.server.process.signal(signal.SIGHUP)
        eventually(
            lambda: "auth file not reloaded" in secured.server.process.log(),
            "a broken auth file was not reported",
        )
        assert rotated_works()
        assert secured.server.process.popen is not None
        assert secured.server.process.popen.poll() is None
    finally:
        before.close()


@pytest.mark.parametrize(
    ("content", "problem"), [("[[principal]\n", "not valid TOML"), (None, "cannot read")]
)
def test_a_broken_auth_file_stops_start_up_with_exit_2(
    tmp_path: Path, content: str | None, problem: str
) -> None:
    path = tmp_path / "auth.toml"
    if content is not None:
        path.write_text(content)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    done = run(
        script("kv-server"),
        env={"KV_AUTH_FILE": str(path), "KV_HOST": "127.0.0.1", "KV_HTTP_PORT": str(port)},
    )
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("kv-server: KV_AUTH_FILE: ")
    assert problem in line
