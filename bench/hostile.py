"""The hostile probes of docs/hardening.md at a chosen scale, against a fresh kv-server each.

For each probe: the server's idle RSS, its peak during the probe (VmHWM), its
RSS once the probe's clients are gone (polled up to SETTLE_SECONDS), and the
slowest `/healthz` answer seen while the probe ran (asked every 0.2 s from a
thread). Prints one JSON line per probe.

    python -m bench.hostile [--scale 10] [PROBE ...]

Scale 1 is the count each probe had when it was found; 10 is the goal of
docs/hardening.md (peak under 400 MB, back within 10% of idle, /healthz within 1 s).
"""

from __future__ import annotations

import argparse
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.request import urlopen

import grpc

from bench.processes import Server, free_port, python_module, running
from kv.v1 import kv_pb2, kv_pb2_grpc

VALUE_BYTES = 1024 * 1024
SETTLE_SECONDS = 30.0
HOLD_SECONDS = 2.0  # how long the probe's clients stay connected once they have sent


def status_kb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} for {pid}")


class HealthWatch:
    """Asks /healthz every 0.2 s from a thread; keeps the slowest answer (or failure)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.slowest = 0.0
        self.failures = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._done.wait(0.2):
            started = time.monotonic()
            try:
                with urlopen(self.url + "/healthz", timeout=10) as response:
                    ok = response.status == 200
            except OSError:
                ok = False
            self.slowest = max(self.slowest, time.monotonic() - started)
            self.failures += not ok

    def __enter__(self) -> HealthWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()


def connect(port: int, receive_buffer: int | None = None) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    if receive_buffer is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    return sock


def resp_command(*words: bytes) -> bytes:
    return b"*%d\r\n" % len(words) + b"".join(b"$%d\r\n%s\r\n" % (len(w), w) for w in words)


def http_put(port: int, key: str, value: bytes) -> None:
    body = b'{"value": "%s"}' % value
    head = (
        f"PUT /v1/kv/{key} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    with connect(port) as sock:
        sock.sendall(head.encode() + body)
        while sock.recv(65536):
            pass


@contextmanager
def holding(sockets: list[socket.socket]) -> Iterator[None]:
    try:
        yield
        time.sleep(HOLD_SECONDS)
    finally:
        for sock in sockets:
            sock.close()


# Each probe: (setup, burst) run against the server; `burst` returns a note.


def mget(server: Server, scale: int) -> str:
    port = server.ports["resp"]
    with connect(port) as sock:
        sock.sendall(resp_command(b"SET", b"big", b"x" * (VALUE_BYTES - 2)))
        sock.recv(16)
    clients = [connect(port, 4096) for _ in range(10)]
    with holding(clients):
        for sock in clients:
            sock.sendall(resp_command(b"MGET", *[b"big"] * (1400 * scale // 10)))
    return f"10 clients, MGET of one 1 MiB key x{1400 * scale // 10}, not reading"


def http_list(server: Server, scale: int) -> str:
    port = server.ports["http"]
    for n in range(100):
        http_put(port, f"L/{n:03}", b"x" * (VALUE_BYTES - 2))
    listing = b"GET /v1/kv?prefix=L%2F&limit=100 HTTP/1.1\r\nHost: localhost\r\n\r\n"
    clients = [connect(port, 4096) for _ in range(10 * scale)]
    with holding(clients):
        for sock in clients:
            sock.sendall(listing)
    return f"{10 * scale} clients, a page of 100 values of 1 MiB, not reading"


def grpc_list(server: Server, scale: int) -> str:
    target = f"127.0.0.1:{server.ports['grpc']}"
    with grpc.insecure_channel(target) as channel:
        stub = kv_pb2_grpc.KeyValueStub(channel)
        for n in range(8):
            stub.Put(kv_pb2.PutRequest(key=f"G/{n}", value=_string_value(VALUE_BYTES - 2)))
        codes = []
        for _ in range(scale):
            try:
                page = stub.List(kv_pb2.ListRequest(prefix="G/"))
                codes.append(f"OK:{len(page.entries)}")
            except grpc.RpcError as error:
                codes.append(str(error.code()))  # type: ignore[attr-defined]
    return f"List over 8 values of 1 MiB, {scale} times: {sorted(set(codes))}"


def _string_value(size: int) -> object:
    from google.protobuf import struct_pb2

    return struct_pb2.Value(string_value="x" * size)


def resp_uploads(server: Server, scale: int) -> str:
    port = server.ports["resp"]
    head = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%d\r\n" % VALUE_BYTES
    body = b"x" * (VALUE_BYTES - 64 * 1024)
    clients = []
    with holding(clients):
        for _ in range(min(1500 * scale, 9000)):
            sock = connect(port)
            clients.append(sock)
            sock.sendall(head + body)
    return f"{len(clients)} connections, each most of a 1 MiB value, never finished"


def resp_headers(server: Server, scale: int) -> str:
    port = server.ports["resp"]
    for header in (b"*2147483647\r\n", b"*4294967295\r\n", b"*1\r\n$99999999999\r\n"):
        for _ in range(3 * scale):
            with connect(port) as sock:
                sock.sendall(header)
                sock.recv(128)
    return f"{9 * scale} connections announcing 2^31, 2^32 words or a 93 GB bulk"


def http_pipelined(server: Server, scale: int) -> str:
    port = server.ports["http"]
    http_put(port, "big", b"x" * (VALUE_BYTES - 2))
    gets = b"GET /v1/kv/big HTTP/1.1\r\nHost: localhost\r\n\r\n" * 4
    clients = [connect(port, 4096) for _ in range(100 * scale)]
    with holding(clients):
        for sock in clients:
            sock.sendall(gets)
    return f"{100 * scale} clients pipelining 4 GETs of a 1 MiB value, not reading"


PROBES: dict[str, Callable[[Server, int], str]] = {
    "mget": mget,
    "http-list": http_list,
    "grpc-list": grpc_list,
    "resp-uploads": resp_uploads,
    "resp-headers": resp_headers,
    "http-pipelined": http_pipelined,
}


def run(name: str, scale: int) -> dict[str, object]:
    ports = {"http": free_port(), "grpc": free_port(), "resp": free_port()}
    env = {
        "TRANSPORT": "http,grpc,resp",
        "KV_HOST": "127.0.0.1",
        "KV_HTTP_PORT": str(ports["http"]),
        "KV_GRPC_PORT": str(ports["grpc"]),
        "KV_RESP_PORT": str(ports["resp"]),
        "KV_ACCESS_LOG": "off",
    }
    with running(name, python_module("kv.server"), ports=ports, env=env) as server:
        pid = server.process.pid
        url = f"http://127.0.0.1:{ports['http']}"
        with HealthWatch(url) as health:
            note = PROBES[name](server, 0)  # the probe's setup alone: what idle holds
            idle = status_kb(pid, "VmRSS")
            started = status_kb(pid, "VmHWM")
            note = PROBES[name](server, scale)
            deadline = time.monotonic() + SETTLE_SECONDS
            while (after := status_kb(pid, "VmRSS")) > idle * 1.1 and time.monotonic() < deadline:
                time.sleep(0.2)
            peak = status_kb(pid, "VmHWM")  # the highest since start, the settling included
        return {
            "probe": name,
            "scale": scale,
            "what": note,
            "idle_mb": round(idle),
            "setup_peak_mb": round(started),
            "peak_mb": round(peak),
            "after_mb": round(after),
            "slowest_healthz_s": round(health.slowest, 3),
            "healthz_failures": health.failures,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=10)
    parser.add_argument("probes", nargs="*", help=f"some of {', '.join(PROBES)} (default: all)")
    args = parser.parse_args()
    unknown = set(args.probes) - set(PROBES)
    if unknown:
        parser.error(f"unknown probe {', '.join(sorted(unknown))}; known: {', '.join(PROBES)}")
    for name in args.probes or PROBES:
        print(json.dumps(run(name, args.scale)), flush=True)


if __name__ == "__main__":
    main()
