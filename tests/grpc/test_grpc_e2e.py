"""The real `kv-server` serving gRPC (alone and beside HTTP), and `kv --transport grpc`."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from testclient.client import KVClient, NotFound
from testclient.config import ClientSettings, connect
from tests.servers import KvServer, free_port, run_kv, script, start_kv_server

pytestmark = pytest.mark.e2e


@pytest.fixture
def grpc_only(tmp_path: Path) -> Iterator[KvServer]:
    server = start_kv_server(tmp_path, {"TRANSPORT": "grpc"})
    yield server
    server.process.stop()


@pytest.fixture
def both(tmp_path: Path) -> Iterator[KvServer]:
    server = start_kv_server(tmp_path, {"TRANSPORT": "http,grpc"})
    yield server
    server.process.stop()


def client(server: KvServer, transport: str) -> KVClient:
    settings = ClientSettings(
        addresses={"http": server.url, "grpc": server.grpc_target}, timeout=30.0
    )
    return connect(settings, transport)


def kv(server: KvServer, *args: str) -> subprocess.CompletedProcess[str]:
    return run_kv("--transport", "grpc", "--target", server.grpc_target, *args)


def test_grpc_only_serves_grpc_and_no_http(grpc_only: KvServer) -> None:
    put = kv(grpc_only, "put", "a/b c", '{"x": [1, 2.5, "é", null, true]}')
    assert put.returncode == 0, put.stderr
    assert json.loads(put.stdout) == {
        "key": "a/b c",
        "value": {"x": [1, 2.5, "é", None, True]},
        "revision": 1,
        "created": True,
    }
    with (
        pytest.raises(ConnectionRefusedError),
        socket.create_connection(("127.0.0.1", grpc_only.http_port), 1),
    ):
        pass


def test_kv_cli_over_grpc_exit_codes(grpc_only: KvServer) -> None:
    assert kv(grpc_only, "create", "k", '"v"').returncode == 0
    assert kv(grpc_only, "create", "k", '"w"').returncode == 1
    assert kv(grpc_only, "--if-revision", "9", "put", "k", "1").returncode == 1
    deleted = kv(grpc_only, "delete", "k")
    assert json.loads(deleted.stdout) == {"key": "k", "value": "v", "revision": 1}
    missing = kv(grpc_only, "get", "k")
    assert missing.returncode == 1
    assert "NOT_FOUND" in missing.stderr
    assert "Traceback" not in missing.stderr
    assert kv(grpc_only, "put", "t/1", '"x"', "--ttl", "60").returncode == 0
    listed = kv(grpc_only, "list", "t/")
    (line,) = listed.stdout.splitlines()
    assert json.loads(line)["key"] == "t/1"
    assert 0 < json.loads(line)["ttl"] <= 60
    unreachable = run_kv("--transport", "grpc", "--target", f"127.0.0.1:{free_port()}", "get", "k")
    assert unreachable.returncode == 2
    assert "UNAVAILABLE" in unreachable.stderr


@pytest.mark.parametrize(("writer", "reader"), [("http", "grpc"), ("grpc", "http")])
async def test_both_transports_serve_one_store(both: KvServer, writer: str, reader: str) -> None:
    value = {"int": 7, "float": 0.5, "big": 2**53, "list": [None, False, "ü/🙂"], "empty": {}}
    async with client(both, writer) as w, client(both, reader) as r:
        written = await w.put("shared/key", value)
        read = await r.get("shared/key")
        assert read == written.entry
        assert json.dumps(read.value, sort_keys=True) == json.dumps(value, sort_keys=True)
        await r.delete("shared/key")
        with pytest.raises(NotFound):
            await w.get("shared/key")


async def test_integers_beyond_2_53_lose_precision_over_grpc_only(both: KvServer) -> None:
    async with client(both, "http") as http, client(both, "grpc") as grpc_client:
        await http.put("big", 2**60 + 1)
        assert (await http.get("big")).value == 2**60 + 1
        assert (await grpc_client.get("big")).value == float(2**60)


def test_a_grpc_port_in_use_names_kv_grpc_port(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [script("kv-server")],
            env={
                "PATH": str(Path(script("kv-server")).parent),
                "TRANSPORT": "http,grpc",
                "KV_HOST": "127.0.0.1",
                "KV_HTTP_PORT": str(free_port()),
                "KV_GRPC_PORT": str(port),
            },
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert result.returncode == 2
    [line] = [x for x in result.stderr.splitlines() if x.startswith("kv-server:")]
    assert line.startswith("kv-server: KV_GRPC_PORT: cannot listen on")


def test_sigterm_stops_a_grpc_server_cleanly(grpc_only: KvServer) -> None:
    grpc_only.process.signal(signal.SIGTERM)
    assert grpc_only.process.wait() == 0
    messages = [json.loads(line)["message"] for line in grpc_only.process.log().splitlines()]
    assert "stopped" in messages
