"""`kv-testclient`, as a console script: exit statuses, output, and the served API."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from kv.domain import Store
from testclient.kv_testclient_cli import main
from testclient.scenarios import SCENARIOS
from tests.inprocess import serve_in_process
from tests.servers import KvServer, Process, free_port, script, wait_http_ok
from tests.testclient.broken_stores import OverwriteKeepsOld

pytestmark = pytest.mark.e2e
RUN_TIMEOUT = 60.0


@dataclass(frozen=True, slots=True)
class Finished:
    status: int
    stdout: str
    stderr: str


async def kv_testclient(*args: str, **env: str) -> Finished:
    """Run `kv-testclient ARGS` to the end, with `env` over this process's environment."""
    process = await asyncio.create_subprocess_exec(
        script("kv-testclient"),
        *args,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), RUN_TIMEOUT)
    assert process.returncode is not None
    return Finished(process.returncode, stdout.decode(), stderr.decode())


async def test_all_pass_against_kv_server_exit_0(kv_server: KvServer) -> None:
    finished = await kv_testclient("run", KV_URL=kv_server.url)
    assert finished.status == 0, finished.stdout + finished.stderr
    lines = finished.stdout.splitlines()
    for name in SCENARIOS:
        assert any(line.startswith(f"PASS  {name} over http") for line in lines)
    assert lines[-1] == f"{len(SCENARIOS)} of {len(SCENARIOS)} scenarios passed"


async def test_json_output(kv_server: KvServer) -> None:
    finished = await kv_testclient("run", "deletion", "overwrite", "--json", KV_URL=kv_server.url)
    assert finished.status == 0
    document = json.loads(finished.stdout)
    assert document["success"] is True
    assert [result["test"] for result in document["results"]] == ["deletion", "overwrite"]


async def test_a_failed_scenario_exits_1_and_shows_expected_and_observed() -> None:
    store: Store = OverwriteKeepsOld()
    async with serve_in_process("http", store) as served:
        finished = await kv_testclient(
            "run", "overwrite", "deletion", KV_URL=served.client_settings.addresses["http"]
        )
    assert finished.status == 1, finished.stdout + finished.stderr
    assert "FAIL  overwrite over http" in finished.stdout
    assert "PASS  deletion over http" in finished.stdout
    assert "FAIL read back after write 2" in finished.stdout
    assert 'expected {"key"' in finished.stdout
    assert 'observed {"key"' in finished.stdout
    assert '"value": "first"' in finished.stdout


async def test_replicas_over_two_servers_that_do_not_share_a_store_exits_1() -> None:
    async with serve_in_process("grpc") as first, serve_in_process("grpc") as second:
        targets = (
            f"{first.client_settings.addresses['grpc']},{second.client_settings.addresses['grpc']}"
        )
        finished = await kv_testclient(
            "run", "replicas", "--transport", "grpc", "--target", targets
        )
    assert finished.status == 1, finished.stdout + finished.stderr
    assert "FAIL  replicas over grpc" in finished.stdout
    assert "FAIL write through replica 1 is read at once through replica 2" in finished.stdout


async def test_unreachable_kv_service_exits_2() -> None:
    finished = await kv_testclient("run", KV_URL=f"http://127.0.0.1:{free_port()}")
    assert finished.status == 2
    assert finished.stdout.startswith("ERROR deletion over http: KV service unavailable")
    assert "Traceback" not in finished.stderr


async def test_unreachable_with_json_exits_2() -> None:
    finished = await kv_testclient("run", "--json", KV_URL=f"http://127.0.0.1:{free_port()}")
    assert finished.status == 2
    document = json.loads(finished.stdout)
    assert document["success"] is False
    assert document["error"]


async def test_unknown_scenario_exits_2_with_one_line() -> None:
    finished = await kv_testclient("run", "no_such_scenario")
    assert finished.status == 2
    assert finished.stderr.strip().splitlines() == [
        f"kv-testclient: unknown scenario no_such_scenario; known: {', '.join(SCENARIOS)}"
    ]


async def test_bad_setting_exits_2_with_one_line() -> None:
    finished = await kv_testclient("run", TRANSPORT="carrier-pigeon")
    assert finished.status == 2
    lines = finished.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("kv-testclient: TRANSPORT:")


def test_serves_the_api_and_stops_on_sigterm(kv_server: KvServer, tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "KV_HOST": "127.0.0.1",
        "TESTCLIENT_PORT": str(port),
        "KV_URL": kv_server.url,
    }
    process = Process([script("kv-testclient")], env, tmp_path / "testclient.log").start()
    try:
        wait_http_ok(f"http://127.0.0.1:{port}/healthz", process)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/test_deletion",
            method="POST",
            headers={"X-Request-ID": "trace-serve"},
        )
        with urllib.request.urlopen(request, timeout=RUN_TIMEOUT) as response:
            assert response.status == 200
            assert json.load(response)["success"] is True
    finally:
        process.signal(signal.SIGTERM)
        status = process.wait()
    assert status == 0, process.log()
    lines = [json.loads(line) for line in process.log().splitlines()]
    assert {"ready", "scenario finished", "stopped"} <= {line["message"] for line in lines}
    traced = [line for line in lines if line["request_id"] == "trace-serve"]
    assert {"scenario finished", "request"} <= {line["message"] for line in traced}
    access = next(line for line in traced if line["message"] == "request")
    assert access["logger"] == "testclient.access"
    assert (access["method"], access["path"], access["status"]) == ("POST", "/test_deletion", 200)
    assert {"time", "level", "duration_ms"} <= set(access)


@pytest.mark.usefixtures("restore_logging")
def test_main_in_process_exit_statuses(
    kv_server: KvServer, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as passed:
        main(["run", "missing_key", "-v", "--url", kv_server.url])
    assert passed.value.code == 0
    out = capsys.readouterr().out
    assert "PASS  missing_key over http" in out
    assert "  ok   read of a never-written key" in out

    with pytest.raises(SystemExit) as unreachable:
        main(["run", "deletion", "--url", f"http://127.0.0.1:{free_port()}"])
    assert unreachable.value.code == 2
    assert capsys.readouterr().out.startswith("ERROR deletion over http:")

    with pytest.raises(SystemExit) as unknown:
        main(["run", "no_such_scenario"])
    assert unknown.value.code == 2
    assert "unknown scenario no_such_scenario" in capsys.readouterr().err
