"""The RESP transport's health probe (`kv.healthcheck`): PING answers PONG."""

from __future__ import annotations

import socket

from kv.probe_tls import ProbeTls


def probe(host: str, port: int, timeout: float, tls: ProbeTls | None) -> str | None:
    """None when the RESP listener at `host:port` answers PING with PONG, else why not."""
    address = host.strip("[]")
    try:
        with socket.create_connection((address, port), timeout=timeout) as plain:
            connection = (
                plain
                if tls is None
                else tls.ssl_context().wrap_socket(plain, server_hostname=address)
            )
            connection.sendall(b"*1\r\n$4\r\nPING\r\n")
            reply = connection.recv(64)
    except OSError as exc:
        return f"RESP at {host}:{port} unreachable: {exc}"
    return None if reply == b"+PONG\r\n" else f"RESP PING answered {reply!r}"
