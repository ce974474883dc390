"""Servers the benchmark starts: on loopback, on free ports, logging to files, stopped by PID."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
START_TIMEOUT_SECONDS = 20.0
STOP_TIMEOUT_SECONDS = 15.0


def free_port() -> int:
    """A TCP port nobody listens on now (the OS picks it)."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def wait_listening(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    """Return once `port` accepts connections; fail if the process dies or takes too long."""
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}; see {log}")
        try:
            socket.create_connection((HOST, port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{process.args!r} did not listen on {port} in time; see {log}")


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of process `pid` and all its threads, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    # utime and stime are fields 14 and 15 of stat(5); the split starts at field 3.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Server:
    """A started server: its process (for RSS and stopping) and the ports it listens on."""

    process: subprocess.Popen[bytes]
    ports: Mapping[str, int]


@contextmanager
def running(
    name: str, command: list[str], *, ports: Mapping[str, int], env: Mapping[str, str] | None = None
) -> Iterator[Server]:
    """Run `command` until the block ends; wait until every port in `ports` listens.

    Its output goes to a log file in the temporary directory, kept (and named
    in the error) only when something failed.
    """
    log = Path(tempfile.gettempdir()) / f"kv-bench-{name}-{os.getpid()}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            command,
            env={**os.environ, **(env or {})},
            stdout=output,
            stderr=subprocess.STDOUT,
            cwd=Path(__file__).resolve().parent.parent,
        )
    failed = True
    try:
        for port in ports.values():
            wait_listening(port, process, log)
        yield Server(process, ports)
        failed = False
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if not failed:
        log.unlink()


def python_module(module: str, *args: str) -> list[str]:
    """The command that runs `python -m module args` with this interpreter."""
    return [sys.executable, "-m", module, *args]
