"""Raw bytes on the wire, as a hostile client sends them: HTTP/1.1 and gRPC, no client library."""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc

from tests.servers import KvServer

# Generous: the machine running the suite may be loaded.
TIMEOUT = 30.0
RUNAWAY_MB = 1000.0  # the watchdog's line: stop the server, the test has failed anyway


def exchange(port: int, data: bytes, *, timeout: float = TIMEOUT) -> bytes:
    """Send `data` to the HTTP port and read until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        return read_until_closed(sock, timeout)


def read_until_closed(sock: socket.socket, timeout: float = TIMEOUT) -> bytes:
    chunks = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def request(
    method: str,
    target: str,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
) -> bytes:
    """One HTTP/1.1 request that asks the server to close the connection after answering."""
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body or method in ("PUT", "POST"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def json_put(target: str, body: bytes, headers: dict[str, str] | None = None) -> bytes:
    return request("PUT", target, {"Content-Type": "application/json", **(headers or {})}, body)


_STATUS_LINE = re.compile(rb"HTTP/1\.[01] (\d{3}) ")


def statuses(raw: bytes) -> list[int]:
    """The status code of every response in `raw` (interim 1xx ones included).

    Found anywhere, not only at the start of a line: a response follows the
    body of the one before it directly.
    """
    return [int(code) for code in _STATUS_LINE.findall(raw)]


def body_of(raw: bytes) -> bytes:
    """The body of the one response in `raw`."""
    return raw.split(b"\r\n\r\n", 1)[1]


def nested_json(depth: int) -> bytes:
    """A JSON array nested `depth` levels deep: `[[...[1]...]]`."""
    return b"[" * depth + b"1" + b"]" * depth


def varint(number: int) -> bytes:
    out = bytearray()
    while True:
        low, number = number & 0x7F, number >> 7
        if number:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field."""
    return varint(number << 3 | 2) + varint(len(payload)) + payload


NULL_VALUE = b"\x08\x00"  # google.protobuf.Value with null_value (field 1, varint 0)


def nested_value(depth: int) -> bytes:
    """A google.protobuf.Value: lists nested `depth` deep around a null."""
    value = NULL_VALUE
    for _ in range(depth):
        value = field(6, field(1, value))  # Value.list_value { values: value }
    return value


def put_request(key: bytes, value: bytes) -> bytes:
    """kv.v1.PutRequest { key, value } from raw field bytes."""
    return field(1, key) + field(2, value)


def raw_call(
    target: str, method: str, message: bytes, *, timeout: float = TIMEOUT
) -> tuple[grpc.StatusCode, str]:
    """Call `method` (e.g. /kv.v1.KeyValue/Put) with `message` as it is; its status and details."""
    with grpc.insecure_channel(
        target, options=[("grpc.max_send_message_length", 64 * 1024 * 1024)]
    ) as channel:
        call = channel.unary_unary(method)
        try:
            call(message, timeout=timeout)
        except grpc.RpcError as error:
            return error.code(), error.details() or ""  # type: ignore[attr-defined]
    return grpc.StatusCode.OK, ""


def peak_rss_mb(pid: int) -> float:
    """The most resident memory process `pid` has had so far (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmHWM for process {pid}")


def reset_peak_rss(pid: int) -> None:
    """Start process `pid`'s peak (VmHWM) again from its resident memory now (Linux 4.0+).

    So that each round of a probe has a peak of its own, not the highest of every round so far.
    """
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def cpu_seconds(pid: int) -> float:
    """The CPU time process `pid` has used so far (user and system), in seconds.

    The work a stall of its event loop is made of, whatever the scheduler made of it.
    """
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for process {pid}")


@contextmanager
def watchdog(server: KvServer) -> Iterator[None]:
    """Kill the server once its memory passes RUNAWAY_MB, so that a failing probe fails quickly."""
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.05):
            try:
                if rss_mb(server.process.pid) > RUNAWAY_MB:
                    server.process.signal(9)
                    return
            except (FileNotFoundError, ProcessLookupError, AssertionError):
                return  # the server is gone

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
