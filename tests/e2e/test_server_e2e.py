"""The real `kv-server` and `kv` console scripts, as a user runs them."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import time
from pathlib import Path

import aiohttp
import pytest

from tests.servers import KvServer, free_port, run_kv, script, start_kv_server

pytestmark = pytest.mark.e2e


def kv(server: KvServer, *args: str) -> subprocess.CompletedProcess[str]:
    return run_kv("--url", server.url, *args)


def run_kv_command(server: KvServer) -> list[str]:
    """The `kv` command line for `server`, to run with input of one's own."""
    return [script("kv"), "--url", server.url]


def test_kv_cli_round_trip_and_exit_codes(kv_server: KvServer) -> None:
    put = kv(kv_server, "put", "a/b c", '{"x": [1, "é"]}')
    assert put.returncode == 0, put.stderr
    assert json.loads(put.stdout) == {
        "key": "a/b c",
        "value": {"x": [1, "é"]},
        "revision": 1,
        "created": True,
    }
    got = kv(kv_server, "get", "a/b c")
    assert json.loads(got.stdout)["value"] == {"x": [1, "é"]}
    assert kv(kv_server, "create", "a/b c", "1").returncode == 1
    assert kv(kv_server, "--if-revision", "7", "put", "a/b c", "1").returncode == 1
    deleted = kv(kv_server, "delete", "a/b c")
    assert json.loads(deleted.stdout)["revision"] == 1
    missing = kv(kv_server, "get", "a/b c")
    assert missing.returncode == 1
    assert "404" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_kv_cli_put_with_ttl_and_list(kv_server: KvServer) -> None:
    put = kv(kv_server, "put", "listed/b", '"B"', "--ttl", "100")
    assert put.returncode == 0, put.stderr
    assert json.loads(put.stdout)["ttl"] == 100
    assert kv(kv_server, "create", "listed/a", "[1]", "--ttl", "50").returncode == 0
    assert kv(kv_server, "put", "listed/c", "3").returncode == 0
    assert kv(kv_server, "put", "other", "0").returncode == 0
    listed = kv(kv_server, "list", "listed/", "--page-size", "2")
    assert listed.returncode == 0, listed.stderr
    lines = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [line["key"] for line in lines] == ["listed/a", "listed/b", "listed/c"]
    assert lines[0]["value"] == [1]
    assert 0 < lines[0]["ttl"] <= 50
    assert "ttl" not in lines[2]
    keys_only = kv(kv_server, "list", "--keys-only")
    assert [json.loads(line) for line in keys_only.stdout.splitlines()][-1] == {
        "key": "other",
        "revision": 4,
    }
    assert kv(kv_server, "list", "nothing/").stdout == ""
    rejected = kv(kv_server, "put", "k", "1", "--ttl", "0")
    assert rejected.returncode == 2
    assert "ttl" in rejected.stderr


def test_kv_cli_txn_from_a_file_and_from_standard_input(
    kv_server: KvServer, tmp_path: Path
) -> None:
    body = {
        "compare": [{"key": "txn/a", "exists": False}],
        "success": [
            {"op": "put", "key": "txn/a", "value": 1},
            {"op": "put", "key": "txn/b", "value": [2]},
            {"op": "get", "key": "txn/a"},
        ],
        "failure": [{"op": "get", "key": "txn/a"}],
    }
    path = tmp_path / "txn.json"
    path.write_text(json.dumps(body))
    done = kv(kv_server, "txn", str(path))
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    revision = answer["revision"]
    assert answer == {
        "succeeded": True,
        "revision": revision,
        "results": [
            {"key": "txn/a", "revision": revision, "created": True},
            {"key": "txn/b", "revision": revision, "created": True},
            {"key": "txn/a", "value": 1, "revision": revision},
        ],
    }
    again = subprocess.run(
        [*run_kv_command(kv_server), "txn", "-"],
        input=json.dumps(body),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert again.returncode == 1, again.stderr  # the compare failed: the failure branch ran
    assert json.loads(again.stdout)["succeeded"] is False
    assert kv(kv_server, "txn", str(tmp_path / "missing.json")).returncode == 2
    path.write_text('{"success": [{"op": "put", "key": "k"}]}')
    refused = kv(kv_server, "txn", str(path))
    assert refused.returncode == 2
    assert "400" in refused.stderr


def test_kv_cli_usage_and_connection_errors_exit_2(kv_server: KvServer) -> None:
    not_json = kv(kv_server, "put", "k", "hello")
    assert not_json.returncode == 2
    assert "not JSON" in not_json.stderr
    assert kv(kv_server, "frobnicate", "k").returncode == 2
    unreachable = run_kv("--url", f"http://127.0.0.1:{free_port()}", "get", "k")
    assert unreachable.returncode == 2
    assert "cannot reach" in unreachable.stderr
    assert "Traceback" not in unreachable.stderr


def test_kv_backup_and_restore_exit_codes(kv_server: KvServer, tmp_path: Path) -> None:
    """0 saved or restored; 1 a restore refused (keys in the store); 2 nothing to reach, no file,
    a file that is not a whole snapshot."""
    saved = tmp_path / "saved.ndjson"
    assert kv(kv_server, "put", "k", "1").returncode == 0
    backup = kv(kv_server, "backup", str(saved))
    assert backup.returncode == 0, backup.stderr
    assert json.loads(backup.stdout) == {"file": str(saved), "revision": 1, "entries": 1}
    refused = kv(kv_server, "restore", str(saved))
    assert refused.returncode == 1
    assert "--force" in refused.stderr
    forced = kv(kv_server, "restore", str(saved), "--force")
    assert forced.returncode == 0, forced.stderr
    assert json.loads(forced.stdout)["present"] == 1
    unreachable = run_kv("--url", f"http://127.0.0.1:{free_port()}", "backup", str(saved))
    assert unreachable.returncode == 2
    assert saved.exists()  # the earlier backup is kept
    assert kv(kv_server, "restore", str(tmp_path / "missing.ndjson")).returncode == 2
    cut = tmp_path / "cut.ndjson"
    cut.write_bytes(saved.read_bytes().splitlines(keepends=True)[0])
    broken = kv(kv_server, "restore", str(cut), "--force")
    assert broken.returncode == 2
    assert "end line" in broken.stderr
    assert "Traceback" not in broken.stderr + unreachable.stderr


async def test_200_concurrent_puts_from_32_clients(kv_server: KvServer) -> None:
    url = kv_server.url + "/v1/kv/contended"
    results: list[dict[str, object]] = []

    async def client(number: int) -> None:
        async with aiohttp.ClientSession() as session:
            for write in range(number, 200, 32):
                async with session.put(url, json={"value": f"write-{write}"}) as response:
                    assert response.status in (200, 201)
                    results.append(await response.json())

    await asyncio.gather(*(client(number) for number in range(32)))
    revisions = [result["revision"] for result in results]
    assert len(results) == 200
    assert len(set(revisions)) == 200
    highest = max(results, key=lambda result: result["revision"])  # type: ignore[arg-type, return-value]
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        served = await response.json()
    assert served["value"] == highest["value"]
    assert served["revision"] == highest["revision"]


def test_one_json_log_line_per_request_with_its_request_id(tmp_path: Path) -> None:
    server = start_kv_server(tmp_path, {"KV_ACCESS_LOG": "all"})
    try:
        assert kv(server, "get", "nothing-here").returncode == 1
        request = subprocess.run(
            ["curl", "-s", "-H", "X-Request-ID: e2e-trace-1", server.url + "/v1/kv/x"],
            capture_output=True,
            timeout=30,
            check=False,
        )
        assert request.returncode == 0
        # The line is written before the answer is sent: it is there now.
        lines = [json.loads(line) for line in server.process.log().splitlines()]
    finally:
        server.process.stop()
    [access] = [line for line in lines if line.get("request_id") == "e2e-trace-1"]
    assert access["logger"] == "kv.access"
    assert (access["operation"], access["path"], access["outcome"]) == (
        "GET /v1/kv/{key}",
        "/v1/kv/x",
        "404",
    )
    assert access["duration_ms"] > 0
    assert {"time", "level", "message", "service", "remote"} <= set(access)
    # Measured finely enough to tell sub-millisecond requests apart.
    durations = [line["duration_ms"] for line in lines if line.get("logger") == "kv.access"]
    assert any(duration != int(duration) for duration in durations), durations
    assert {"time", "level", "message"} <= set(access)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("TRANSPORT", "carrier-pigeon"),
        ("KV_HTTP_PORT", "99999"),
        ("KV_STORE", "floppy"),
        ("KV_MAX_VALUE_BYTES", "lots"),
        ("KV_LOG_LEVEL", "shouty"),
    ],
)
def test_a_bad_setting_stops_start_up_with_one_line_and_status_2(
    tmp_path: Path, variable: str, value: str
) -> None:
    server = start_kv_server(tmp_path, {variable: value}, wait=False)
    assert server.process.wait() == 2
    output = server.process.log().strip()
    assert len(output.splitlines()) == 1, output
    assert output.startswith(f"kv-server: {variable}: ")


def test_a_port_in_use_names_the_variable(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = start_kv_server(tmp_path, {"KV_HTTP_PORT": str(port)}, wait=False)
        assert server.process.wait() == 2
    assert "KV_HTTP_PORT: cannot listen on" in server.process.log()
    assert "Traceback" not in server.process.log()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_exits_0_after_a_clean_shutdown(tmp_path: Path, signum: int) -> None:
    server = start_kv_server(tmp_path)
    assert kv(server, "put", "k", "1").returncode == 0
    server.process.signal(signum)
    assert server.process.wait() == 0
    log = server.process.log()
    assert "stopped" in [json.loads(line)["message"] for line in log.splitlines()]
    assert "Traceback" not in log


# Past KV_IDLE_TIMEOUT, what a closing may take on a loaded machine; still under the
# default idle timeout (15 s), so a server that ignored the setting fails too.
IDLE_CLOSE_SLACK = 9.0


def test_idle_and_slow_connections_are_closed(tmp_path: Path) -> None:
    server = start_kv_server(tmp_path, {"KV_IDLE_TIMEOUT": "1"})
    try:
        for opening in (b"", b"GET /v1/kv/k HTTP/1.1\r\nHost:"):
            with socket.create_connection(("127.0.0.1", server.http_port), timeout=60) as sock:
                sock.sendall(opening)
                started = time.monotonic()
                assert sock.recv(1024) == b""  # closed by the server, not timed out here
                assert time.monotonic() - started < 1 + IDLE_CLOSE_SLACK
    finally:
        assert server.process.stop() == 0
