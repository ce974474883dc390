"""Real clients against a real `kv-server` serving TLS: curl, grpcurl, redis-cli, redis-py, `kv`.

Also what kv-server does with SIGHUP and with TLS files it cannot use at start-up.
redis-cli comes from Debian's redis-tools (`.ci/run` installs it), grpcurl from the
dev extras.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from tests.servers import BIN, Process, free_port, script, wait_until
from tests.tls.certificates import Issued, Pki

pytestmark = pytest.mark.e2e

# Generous: the machine is shared; nothing here measures time.
DEADLINE = 30.0


def tool(name: str) -> str:
    path = shutil.which(name) or shutil.which(name, path=str(BIN))
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} is not installed; .ci/run installs it")
        pytest.skip(f"{name} is not installed")
    return path


@dataclass
class TlsServer:
    """A kv-server serving HTTP, gRPC and RESP over TLS on loopback."""

    process: Process
    ports: Mapping[str, int]

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.ports['http']}"

    def served_name(self, ca: Path) -> str:
        """The common name of the certificate a new HTTP connection is served."""
        context = ssl.create_default_context(cafile=ca)
        with (
            socket_to(self.ports["http"]) as raw,
            context.wrap_socket(raw, server_hostname="localhost") as tls,
        ):
            certificate = tls.getpeercert()
        assert certificate is not None
        return str(dict(n for part in certificate["subject"] for n in part)["commonName"])


def socket_to(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)


def start(tmp_path: Path, files: Issued, client_ca: Path | None = None) -> TlsServer:
    ports = {"http": free_port(), "grpc": free_port(), "resp": free_port()}
    env = {
        **os.environ,
        "TRANSPORT": "http,grpc,resp",
        "KV_HOST": "127.0.0.1",
        "KV_HTTP_PORT": str(ports["http"]),
        "KV_GRPC_PORT": str(ports["grpc"]),
        "KV_RESP_PORT": str(ports["resp"]),
        "KV_TLS_CERT_FILE": str(files.cert),
        "KV_TLS_KEY_FILE": str(files.key),
        **({"KV_TLS_CLIENT_CA_FILE": str(client_ca)} if client_ca else {}),
    }
    process = Process([script("kv-server")], env, tmp_path / "kv-server.log").start()
    wait_until(lambda: "ready" in process.log(), "kv-server", process, DEADLINE)
    return TlsServer(process, ports)


@pytest.fixture
def server(tmp_path: Path, served_files: Issued) -> Iterator[TlsServer]:
    started = start(tmp_path, served_files)
    yield started
    assert started.process.stop() == 0


@pytest.fixture
def mutual(tmp_path: Path, served_files: Issued, pki: Pki) -> Iterator[TlsServer]:
    started = start(tmp_path, served_files, client_ca=pki.ca.cert)
    yield started
    assert started.process.stop() == 0


def run(*args: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(args),
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        check=False,
        env={**os.environ, **(env or {})},
    )


def test_curl_grpcurl_redis_cli_and_redis_py_verify_the_server_against_its_ca(
    server: TlsServer, pki: Pki
) -> None:
    ca = str(pki.ca.cert)
    put = run(
        tool("curl"), "-sS", "--cacert", ca, "-X", "PUT", "-H", "Content-Type: application/json",
        "-d", '{"value": "over tls"}', f"{server.url}/v1/kv/tools/curl",
    )  # fmt: skip
    assert put.returncode == 0, put.stderr
    got = run(tool("curl"), "-sS", "--cacert", ca, f"{server.url}/v1/kv/tools/curl")
    assert '"over tls"' in got.stdout, got.stderr
    grpc = run(
        tool("grpcurl"), "-cacert", ca, "-d", '{"key": "tools/curl"}',
        f"localhost:{server.ports['grpc']}", "kv.v1.KeyValue/Get",
    )  # fmt: skip
    assert '"over tls"' in grpc.stdout, grpc.stderr
    cli = run(
        tool("redis-cli"), "--tls", "--cacert", ca, "-p", str(server.ports["resp"]),
        "SET", "tools/cli", "v",
    )  # fmt: skip
    assert cli.stdout.strip() == "OK", cli.stderr
    url = f"rediss://localhost:{server.ports['resp']}"
    with redis.Redis.from_url(url, ssl_ca_certs=ca, socket_timeout=DEADLINE) as client:
        assert client.get("tools/cli") == b"v"
    # Without the CA each refuses the server's certificate.
    assert run(tool("curl"), "-sS", f"{server.url}/healthz").returncode != 0


def test_kv_speaks_tls_on_every_transport(server: TlsServer, pki: Pki) -> None:
    env = {
        "KV_URL": server.url,
        "KV_GRPC_TARGET": f"localhost:{server.ports['grpc']}",
        "KV_RESP_URL": f"rediss://localhost:{server.ports['resp']}",
        "KV_TLS_CA_FILE": str(pki.ca.cert),
    }
    for transport in ("http", "grpc", "resp"):
        key = f"tools/kv-{transport}"
        put = run(script("kv"), "--transport", transport, "put", key, "1", env=env)
        assert put.returncode == 0, put.stderr
        got = run(script("kv"), "--transport", transport, "get", key, env=env)
        assert '"value": 1' in got.stdout, got.stderr


def test_mutual_tls_with_each_tool(mutual: TlsServer, pki: Pki) -> None:
    ca, cert, key = str(pki.ca.cert), str(pki.client.cert), str(pki.client.key)
    resp = str(mutual.ports["resp"])
    assert run(tool("curl"), "-sS", "--cacert", ca, f"{mutual.url}/healthz").returncode != 0
    curl = run(
        tool("curl"), "-sS", "--cacert", ca, "--cert", cert, "--key", key, f"{mutual.url}/healthz"
    )
    assert curl.returncode == 0, curl.stderr
    target = f"localhost:{mutual.ports['grpc']}"
    grpc = run(tool("grpcurl"), "-cacert", ca, "-cert", cert, "-key", key, target, "list")
    assert "kv.v1.KeyValue" in grpc.stdout, grpc.stderr
    assert run(tool("grpcurl"), "-cacert", ca, target, "list").returncode != 0
    cli = run(
        tool("redis-cli"), "--tls", "--cacert", ca, "--cert", cert, "--key", key, "-p", resp, "PING"
    )
    assert cli.stdout.strip() == "PONG", cli.stderr
    refused = run(tool("redis-cli"), "--tls", "--cacert", ca, "-p", resp, "PING")
    assert refused.stdout.strip() != "PONG"


def test_sighup_serves_the_new_certificate(
    server: TlsServer, pki: Pki, served_files: Issued
) -> None:
    assert server.served_name(pki.ca.cert) == "server"
    shutil.copyfile(pki.rotated.cert, served_files.cert)
    shutil.copyfile(pki.rotated.key, served_files.key)
    server.process.signal(signal.SIGHUP)
    wait_until(
        lambda: server.served_name(pki.ca.cert) == "rotated", "rotation", server.process, DEADLINE
    )
    served_files.key.write_text("broken\n")
    server.process.signal(signal.SIGHUP)
    wait_until(
        lambda: "TLS files not reloaded" in server.process.log(), "log", server.process, DEADLINE
    )
    assert server.served_name(pki.ca.cert) == "rotated"


@pytest.mark.parametrize(
    ("case", "variable"),
    [
        ("only the certificate", "KV_TLS_KEY_FILE"),
        ("a key file that cannot be read", "KV_TLS_KEY_FILE"),
        ("the key of another certificate", "KV_TLS_KEY_FILE"),
        ("a certificate file that holds none", "KV_TLS_CERT_FILE"),
        ("a client CA file that holds none", "KV_TLS_CLIENT_CA_FILE"),
    ],
)
def test_unusable_tls_files_stop_start_up_with_one_line_naming_the_variable(
    tmp_path: Path, pki: Pki, served_files: Issued, case: str, variable: str
) -> None:
    env = {
        "KV_HOST": "127.0.0.1",
        "KV_HTTP_PORT": str(free_port()),
        "KV_TLS_CERT_FILE": str(served_files.cert),
        "KV_TLS_KEY_FILE": str(served_files.key),
    }
    if case == "only the certificate":
        del env["KV_TLS_KEY_FILE"]
    elif case == "a key file that cannot be read":
        env["KV_TLS_KEY_FILE"] = str(tmp_path / "missing.key")
    elif case == "the key of another certificate":
        env["KV_TLS_KEY_FILE"] = str(pki.rotated.key)
    elif case == "a certificate file that holds none":
        served_files.cert.write_text("no certificate here\n")
    else:
        env["KV_TLS_CLIENT_CA_FILE"] = str(served_files.key)
    done = run(script("kv-server"), env=env)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"kv-server: {variable}: "), lines[0]
    assert "BEGIN" not in done.stderr


@pytest.mark.parametrize("transport", ["http", "grpc", "resp"])
def test_the_healthcheck_probes_over_mutual_tls(
    mutual: TlsServer, pki: Pki, served_files: Issued, transport: str
) -> None:
    env = {
        "TRANSPORT": transport,
        "KV_HOST": "127.0.0.1",
        **{f"KV_{name.upper()}_PORT": str(port) for name, port in mutual.ports.items()},
        "KV_TLS_CERT_FILE": str(served_files.cert),
        "KV_TLS_KEY_FILE": str(served_files.key),
        "KV_TLS_CLIENT_CA_FILE": str(pki.ca.cert),
        "KV_TLS_CA_FILE": str(pki.ca.cert),
    }
    healthcheck = [sys.executable, "-m", "kv.healthcheck"]
    without = run(*healthcheck, env=env)
    assert without.returncode == 1, "served without a client certificate"
    assert without.stderr.startswith("unhealthy: "), without.stderr
    with_certificate = {
        **env,
        "KV_TLS_CLIENT_CERT_FILE": str(pki.client.cert),
        "KV_TLS_CLIENT_KEY_FILE": str(pki.client.key),
    }
    probed = run(*healthcheck, env=with_certificate)
    assert probed.returncode == 0, probed.stderr
