"""The RESP transport's health probe (`kv.healthcheck`): PING answers PONG."""

from __future__ import annotations

import socket


def probe(host: str, port: int, timeout: float) -> str | None:
    """None when the RESP listener at `host:port` answers PING with PONG, else why not."""
    try:
        with socket.create_connection((host.strip("[]"), port), timeout=timeout) as connection:
            connection.sendall(b"*1\r\n$4\r\nPING\r\n")
            reply = connection.recv(64)
    except OSError as exc:
        return f"RESP at {host}:{port} unreachable: {exc}"
    return None if reply == b"+PONG\r\n" else f"RESP PING answered {reply!r}"
