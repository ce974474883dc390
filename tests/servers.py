"""Starting real console scripts for end-to-end tests: free ports, readiness, stop by PID."""

from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

BIN = Path(sys.executable).parent
START_TIMEOUT = 20.0


# Ports already handed out by this process: nothing is bound to a port until the server that
# gets it starts, so two calls in a row could otherwise answer the same port (an HTTP and a
# gRPC listener then collide; seen in make test).
_HANDED_OUT: set[int] = set()


# Under pytest-xdist each worker hands out only the ports of its own residue, so that two
# workers never hand out the same port either. Of port // 2: Linux gives bind(0) odd ports
# (and connect even ones), so the residue of the port itself would leave some workers none.
_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
_PORT_ATTEMPTS = 10_000


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now, never one already handed out."""
    for _ in range(_PORT_ATTEMPTS):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        if (port // 2) % _WORKERS == _WORKER and port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port
    raise AssertionError(f"no free port for worker {_WORKER} of {_WORKERS}")


def script(name: str) -> str:
    """The path of one of this project's console scripts in the running venv."""
    return str(BIN / name)


@dataclass
class Process:
    """A console script started in the background, stopped by its PID."""

    args: list[str]
    env: dict[str, str]
    log_path: Path
    popen: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def start(self) -> Process:
        log = self.log_path.open("ab")
        self.popen = subprocess.Popen(
            self.args, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        _RUNNING[self.popen.pid] = self
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def signal(self, signum: int) -> None:
        assert self.popen is not None
        if self.popen.poll() is None:
            os.kill(self.popen.pid, signum)

    def wait(self, timeout: float = 15.0) -> int:
        assert self.popen is not None
        status = self.popen.wait(timeout)
        _RUNNING.pop(self.popen.pid, None)
        return status

    def stop(self) -> int:
        """SIGTERM, then SIGKILL if it does not exit in time; returns the exit status."""
        assert self.popen is not None
        if self.popen.poll() is None:
            self.signal(signal.SIGTERM)
            try:
                return self.wait(15)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
        return self.wait(15)


# Every process started by `Process.start` and not yet seen to exit, by PID. A test stops
# what it starts, but a test can end before it gets there (a failed start, an interrupt, a
# fixture whose teardown never ran): `stop_every_process` stops what is left at the end of
# the session, and at exit if the session never got to its end.
_RUNNING: dict[int, Process] = {}


def stop_processes(processes: Iterable[Process]) -> None:
    """Stop each process (by PID), all of them even when one fails to stop; then raise."""
    failures: list[BaseException] = []
    for process in processes:
        try:
            process.stop()
        except Exception as exc:  # the next ones must be stopped all the same
            failures.append(exc)
    if failures:
        raise failures[0]


def stop_every_process() -> list[str]:
    """Stop every process this test process started that is still running; their commands."""
    left = [process for process in _RUNNING.values() if process.popen is not None]
    running = [" ".join(p.args[:3]) for p in left if p.popen is not None and p.popen.poll() is None]
    stop_processes(left)
    _RUNNING.clear()
    return running


atexit.register(stop_every_process)


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_until(ready: Callable[[], bool], what: str, process: Process, timeout: float) -> None:
    """Poll `ready` until true; fail with the process log if it exits first or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.popen is not None
        if process.popen.poll() is not None:
            raise AssertionError(f"{process.args[0]} exited early:\n{process.log()}")
        if ready():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what} not ready after {timeout}s:\n{process.log()}")


def wait_http_ok(url: str, process: Process, timeout: float = START_TIMEOUT) -> None:
    """Poll `url` until it answers 200."""
    wait_until(lambda: _http_ok(url), url, process, timeout)


def wait_port_open(port: int, process: Process, timeout: float = START_TIMEOUT) -> None:
    """Poll until something accepts connections on 127.0.0.1:`port`."""
    wait_until(lambda: _port_open(port), f"port {port}", process, timeout)


def run_kv(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the `kv` CLI with `args` and capture what it prints."""
    return subprocess.run(
        [script("kv"), *args], capture_output=True, text=True, timeout=30, check=False
    )


@dataclass
class KvServer:
    """A running `kv-server` and where to reach it."""

    process: Process
    http_port: int
    grpc_port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"


def start_kv_server(
    tmp_path: Path, env: Mapping[str, str] | None = None, *, wait: bool = True
) -> KvServer:
    """Start `kv-server` on free loopback ports; waits for readiness unless `wait` is False."""
    http_port, grpc_port = free_port(), free_port()
    full_env = {
        **os.environ,
        "KV_HOST": "127.0.0.1",
        "KV_HTTP_PORT": str(http_port),
        "KV_GRPC_PORT": str(grpc_port),
        "KV_DATA_DIR": str(tmp_path / "data"),
        **(env or {}),
    }
    process = Process(
        [script("kv-server")], full_env, tmp_path / f"kv-server-{http_port}.log"
    ).start()
    server = KvServer(process, http_port, grpc_port)
    if wait:
        transports = full_env.get("TRANSPORT", "http")
        if "http" in transports:
            wait_http_ok(server.url + "/readyz", process)
        else:
            wait_port_open(grpc_port, process)
    return server
