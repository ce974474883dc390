"""Protected mode seen from a client that is not on loopback, and the Host check from one that is.

The remote client is this test, in the host's network namespace, reaching a kv-server
that runs in a network namespace the test makes (a veth pair on 10.231.N.0/30): the
server sees the test's address, 10.231.N.1, not loopback. Needs root (`ip netns`);
without it the test skips, except in CI (CI=true), where it fails.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from kv.v1 import kv_pb2, kv_pb2_grpc
from tests.access.secured import APP_TOKEN, write_auth_file
from tests.servers import Process, script

pytestmark = pytest.mark.e2e  # real kv-server processes in a network namespace

DEADLINE = 30.0
HTTP_PORT, GRPC_PORT, RESP_PORT = 18080, 18051, 16379


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=DEADLINE)


class Namespace:
    """A network namespace joined to this one by a veth pair: here .1, there .2."""

    def __init__(self) -> None:
        self.subnet = os.getpid() % 200 + 20
        self.name = f"kvprot{self.subnet}"
        self.outside = f"kvp{self.subnet}a"
        self.inside = f"kvp{self.subnet}b"
        self.address = f"10.231.{self.subnet}.2"

    def create(self) -> None:
        ip("netns", "add", self.name)
        ip("link", "add", self.outside, "type", "veth", "peer", "name", self.inside)
        ip("link", "set", self.inside, "netns", self.name)
        ip("addr", "add", f"10.231.{self.subnet}.1/30", "dev", self.outside)
        ip("link", "set", self.outside, "up")
        inside = ("netns", "exec", self.name, "ip")
        ip(*inside, "addr", "add", f"{self.address}/30", "dev", self.inside)
        ip(*inside, "link", "set", self.inside, "up")
        ip(*inside, "link", "set", "lo", "up")

    def delete(self) -> None:
        for args in (("netns", "del", self.name), ("link", "del", self.outside)):
            subprocess.run(["ip", *args], check=False, capture_output=True, timeout=DEADLINE)


@pytest.fixture(scope="module")
def namespace() -> Iterator[Namespace]:
    made = Namespace()
    made.delete()  # what a killed earlier run with the same PID may have left
    try:
        made.create()
    except (subprocess.CalledProcessError, FileNotFoundError) as exc:
        made.delete()
        reason = f"cannot make a network namespace (root and `ip netns` needed): {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    try:
        yield made
    finally:
        made.delete()


def serve_inside(namespace: Namespace, tmp_path: Path, env: dict[str, str]) -> Process:
    full_env = {
        **os.environ,
        "TRANSPORT": "http,grpc,resp",
        "KV_HOST": "0.0.0.0",
        "KV_HTTP_PORT": str(HTTP_PORT),
        "KV_GRPC_PORT": str(GRPC_PORT),
        "KV_RESP_PORT": str(RESP_PORT),
        "KV_DATA_DIR": str(tmp_path / "data"),
        **env,
    }
    process = Process(
        ["ip", "netns", "exec", namespace.name, script("kv-server")],
        full_env,
        tmp_path / "kv-server.log",
    ).start()
    deadline = time.monotonic() + DEADLINE
    while True:
        try:
            socket.create_connection((namespace.address, RESP_PORT), timeout=1).close()
            socket.create_connection((namespace.address, HTTP_PORT), timeout=1).close()
            return process
        except OSError:
            assert process.popen is not None
            assert process.popen.poll() is None, process.log()
            assert time.monotonic() < deadline, f"kv-server did not start:\n{process.log()}"
            time.sleep(0.1)


def http_get(address: str, path: str, token: str | None = None) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(f"http://{address}:{HTTP_PORT}{path}")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=DEADLINE) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


def grpc_get(address: str, token: str | None = None) -> grpc.StatusCode:
    metadata = () if token is None else (("authorization", f"Bearer {token}"),)
    with grpc.insecure_channel(f"{address}:{GRPC_PORT}") as channel:
        stub = kv_pb2_grpc.KeyValueStub(channel)  # type: ignore[no-untyped-call]
        try:
            stub.Get(kv_pb2.GetRequest(key="app/x"), timeout=DEADLINE, metadata=metadata)
        except grpc.RpcError as exc:
            return exc.code()  # type: ignore[attr-defined,no-any-return]
    return grpc.StatusCode.OK


def resp_ping(address: str) -> bytes:
    """The first line of the reply to PING."""
    with socket.create_connection((address, RESP_PORT), timeout=DEADLINE) as sock:
        sock.sendall(b"*1\r\n$4\r\nPING\r\n")
        return sock.makefile("rb").readline().rstrip(b"\r\n")


def resp_until_closed(address: str) -> bytes:
    """Everything the server sends a client that sends nothing, until it closes."""
    received = b""
    with socket.create_connection((address, RESP_PORT), timeout=DEADLINE) as sock:
        while chunk := sock.recv(4096):
            received += chunk
    return received


def test_protected_mode_refuses_clients_off_loopback_on_every_transport(
    namespace: Namespace, tmp_path: Path
) -> None:
    server = serve_inside(namespace, tmp_path, {})
    try:
        status, body = http_get(namespace.address, "/v1/kv/x")
        assert status == 403
        error = body["error"]
        assert isinstance(error, dict)
        assert error["code"] == "protected_mode"
        assert "KV_AUTH_FILE" in error["message"]
        assert "KV_PROTECTED_MODE=false" in error["message"]
        assert http_get(namespace.address, "/healthz")[0] == 403
        assert grpc_get(namespace.address) == grpc.StatusCode.PERMISSION_DENIED
        # One error line at connect, then the server closes the connection.
        [denied] = resp_until_closed(namespace.address).splitlines()
        assert denied.startswith(b"-DENIED ")
        assert b"KV_PROTECTED_MODE=false" in denied
        log = server.log()
        assert '"logger":"kv.auth"' in log
        assert f"10.231.{namespace.subnet}.1" in log
    finally:
        assert server.stop() == 0


def test_without_protected_mode_clients_off_loopback_are_served(
    namespace: Namespace, tmp_path: Path
) -> None:
    server = serve_inside(namespace, tmp_path, {"KV_PROTECTED_MODE": "false"})
    try:
        assert http_get(namespace.address, "/v1/kv/x")[0] == 404
        assert grpc_get(namespace.address) == grpc.StatusCode.NOT_FOUND
        assert resp_ping(namespace.address) == b"+PONG"
    finally:
        assert server.stop() == 0


def test_with_an_auth_file_clients_off_loopback_need_a_token(
    namespace: Namespace, tmp_path: Path
) -> None:
    auth_file = write_auth_file(tmp_path)
    server = serve_inside(namespace, tmp_path, {"KV_AUTH_FILE": str(auth_file)})
    try:
        assert http_get(namespace.address, "/v1/kv/app/x")[0] == 401
        assert http_get(namespace.address, "/v1/kv/app/x", APP_TOKEN)[0] == 404
        assert http_get(namespace.address, "/healthz")[0] == 200
        assert grpc_get(namespace.address) == grpc.StatusCode.UNAUTHENTICATED
        assert grpc_get(namespace.address, APP_TOKEN) == grpc.StatusCode.NOT_FOUND
        assert resp_ping(namespace.address) == b"-NOAUTH Authentication required."
    finally:
        assert server.stop() == 0
