"""Protected mode from loopback: the Host check against DNS rebinding, gRPC's peer strings,
and IPv6 loopback served on every transport."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import grpc
import pytest

from kv.adapters.memory import InMemoryStore
from kv.bootstrap import bootstrap
from kv.config import Settings
from kv.lifecycle import serving
from kv.transports.grpc.calls import peer_address
from kv.v1 import kv_pb2, kv_pb2_grpc
from tests.access.secured import serve_secured
from tests.inprocess import serve_in_process
from tests.servers import free_port

DEADLINE = 30.0

# The Host check, from loopback (in-process): what a page on another site reaches
# through a visitor's browser by DNS rebinding carries its own host name.


async def host_status(port: int, host: str) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(f"GET /v1/kv/x HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        status_line = await asyncio.wait_for(reader.readline(), DEADLINE)
    finally:
        writer.close()
    return int(status_line.split()[1])


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("localhost", 404),
        ("localhost:{port}", 404),
        ("127.0.0.1:{port}", 404),
        ("127.0.0.1", 404),
        ("LOCALHOST.:{port}", 404),
        ("attacker.example", 403),
        ("attacker.example:{port}", 403),
        ("localhost.attacker.example:{port}", 403),
        ("10.0.0.1:{port}", 403),
        ("[::1]:{port}", 404),
    ],
)
async def test_protected_mode_refuses_a_host_that_is_not_this_server(
    host: str, status: int
) -> None:
    async with serve_in_process("http") as served:
        port = served.settings.ports["http"]
        assert await host_status(port, host.format(port=port)) == status


async def test_the_host_check_is_protected_mode_s_only(tmp_path: Path) -> None:
    async with serve_in_process("http", protected_mode=False) as served:
        assert await host_status(served.settings.ports["http"], "attacker.example") == 404
    async with serve_secured("http", tmp_path) as served:
        # With an auth file a request needs a token, whatever its Host.
        assert await host_status(served.settings.ports["http"], "attacker.example") == 401


@pytest.mark.parametrize(
    ("peer", "address"),
    [
        ("ipv4:127.0.0.1:5000", "127.0.0.1"),
        ("ipv6:[::1]:5000", "::1"),
        ("ipv6:%5B::1%5D:5000", "::1"),
        ("ipv6:%5B::ffff:10.0.0.1%5D:5000", "::ffff:10.0.0.1"),
        ("unix:/tmp/kv.sock", None),
    ],
)
def test_grpc_peer_strings_give_the_peer_s_address(peer: str, address: str | None) -> None:
    assert peer_address(peer) == address


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback here")
async def test_protected_mode_serves_ipv6_loopback_on_every_transport() -> None:
    ports = {"http": free_port(), "grpc": free_port(), "resp": free_port()}
    settings = Settings(transports=("http", "grpc", "resp"), host="::1", ports=ports)
    async with serving(bootstrap(settings, store=InMemoryStore())):
        assert await host_status_v6(ports["http"]) == 404
        async with grpc.aio.insecure_channel(f"[::1]:{ports['grpc']}") as channel:
            stub = kv_pb2_grpc.KeyValueStub(channel)  # type: ignore[no-untyped-call]
            with pytest.raises(grpc.aio.AioRpcError) as missing:
                await stub.Get(kv_pb2.GetRequest(key="x"), timeout=DEADLINE)
            assert missing.value.code() == grpc.StatusCode.NOT_FOUND
        reader, writer = await asyncio.open_connection("::1", ports["resp"])
        try:
            writer.write(b"*1\r\n$4\r\nPING\r\n")
            assert await asyncio.wait_for(reader.readline(), DEADLINE) == b"+PONG\r\n"
        finally:
            writer.close()


async def host_status_v6(port: int) -> int:
    reader, writer = await asyncio.open_connection("::1", port)
    try:
        writer.write(f"GET /v1/kv/x HTTP/1.1\r\nHost: [::1]:{port}\r\n\r\n".encode())
        status_line = await asyncio.wait_for(reader.readline(), DEADLINE)
    finally:
        writer.close()
    return int(status_line.split()[1])
