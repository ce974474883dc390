"""A real etcd cluster on loopback for tests: free ports, data in a temporary dir, stop by PID.

Debian's `etcd-server` (3.4) provides `etcd`; `.ci/run` installs it. Without it a test skips
with the reason, except in CI (CI=true), where a missing etcd is a failure.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest

from kv.adapters.etcd import EtcdStore
from kv.adapters.history import HistoryLimits
from kv.etcdpb import rpc_pb2, rpc_pb2_grpc
from tests.servers import Process, free_port, stop_processes

START_TIMEOUT = 60.0


def require_etcd() -> str:
    """The path of `etcd`; skips the test without it (fails in CI, which must have it)."""
    path = shutil.which("etcd")
    if path is None:
        reason = "etcd is not installed (apt-get install etcd-server; .ci/run does)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return path


@dataclass
class EtcdMember:
    """One etcd process of a cluster; its data directory outlives a kill, so it can restart."""

    name: str
    client_port: int
    peer_port: int
    data_dir: Path
    process: Process | None = field(default=None, init=False)

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.client_port}"

    @property
    def peer_url(self) -> str:
        return f"http://127.0.0.1:{self.peer_port}"

    def status(self, timeout: float = 2.0) -> rpc_pb2.StatusResponse | None:
        """This member's view (its id, the leader's id), or None when it does not answer."""
        with grpc.insecure_channel(self.endpoint) as channel:
            stub = rpc_pb2_grpc.MaintenanceStub(channel)  # type: ignore[no-untyped-call]
            try:
                response: rpc_pb2.StatusResponse = stub.Status(
                    rpc_pb2.StatusRequest(), timeout=timeout
                )
            except grpc.RpcError:
                return None
            return response


class EtcdCluster:
    """`size` members on loopback, started together with one command line each."""

    def __init__(self, root: Path, size: int = 3, extra_args: tuple[str, ...] = ()) -> None:
        self.etcd = require_etcd()
        self.root = root
        self.extra_args = extra_args
        self.token = f"kv-test-{os.getpid()}-{free_port()}"
        self.members = [
            EtcdMember(f"m{n}", free_port(), free_port(), root / f"m{n}") for n in range(size)
        ]
        self.initial_cluster = ",".join(f"{m.name}={m.peer_url}" for m in self.members)
        # Once stopped, no member starts again: a thread restarting one (the fault test's)
        # must not start it after `stop`, where nothing would stop it.
        self._stopped = False
        self._starting = threading.Lock()

    @property
    def endpoints(self) -> list[str]:
        return [member.endpoint for member in self.members]

    def _args(self, member: EtcdMember) -> list[str]:
        client_url = f"http://{member.endpoint}"
        return [
            self.etcd,
            *("--name", member.name, "--data-dir", str(member.data_dir)),
            *("--listen-client-urls", client_url, "--advertise-client-urls", client_url),
            *("--listen-peer-urls", member.peer_url),
            *("--initial-advertise-peer-urls", member.peer_url),
            *("--initial-cluster", self.initial_cluster, "--initial-cluster-token", self.token),
            *("--initial-cluster-state", "new", "--logger", "zap", "--log-level", "warn"),
            *self.extra_args,
        ]

    def start_member(self, member: EtcdMember) -> None:
        """Start (or restart, over its data directory) one member; does not wait."""
        log = self.root / f"{member.name}.log"
        with self._starting:
            if self._stopped:
                raise RuntimeError(f"etcd cluster {self.root} is stopped: {member.name} stays down")
            member.process = Process(self._args(member), dict(os.environ), log).start()

    def start(self) -> EtcdCluster:
        """Start every member and wait until they agree on a leader; stops them if they do not."""
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            for member in self.members:
                self.start_member(member)
            self.wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def kill(self, member: EtcdMember) -> None:
        """SIGKILL one member by its PID and reap it."""
        assert member.process is not None
        member.process.signal(signal.SIGKILL)
        member.process.wait(30)

    def leader(self) -> EtcdMember | None:
        """The member every answering member names as leader, or None during an election."""
        by_id: dict[int, EtcdMember] = {}
        leaders: set[int] = set()
        for member in self.members:
            status = member.status()
            if status is None:
                continue
            by_id[status.header.member_id] = member
            leaders.add(status.leader)
        if len(leaders) != 1:
            return None
        return by_id.get(leaders.pop())

    def wait_healthy(self, timeout: float = START_TIMEOUT) -> EtcdMember:
        """Poll until every member answers and all agree on a leader; returns the leader."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for member in self.members:
                assert member.process is not None
                if member.process.popen is not None and member.process.popen.poll() is not None:
                    raise AssertionError(f"etcd {member.name} exited:\n{member.process.log()}")
            if all(member.status() is not None for member in self.members):
                leader = self.leader()
                if leader is not None:
                    return leader
            time.sleep(0.1)
        logs = "\n".join(m.process.log()[-2000:] for m in self.members if m.process is not None)
        raise AssertionError(f"etcd cluster not healthy after {timeout}s:\n{logs}")

    def stop(self) -> None:
        """Stop every member (by PID); the cluster starts none again."""
        with self._starting:
            self._stopped = True
        stop_processes(member.process for member in self.members if member.process is not None)


_shared: list[EtcdCluster] = []


def shared_cluster() -> EtcdCluster:
    """One cluster for every test of the session that only reads and writes (started on first
    use, stopped by `stop_shared_cluster` at the end of the session); each test takes a prefix
    of its own. Tests that kill members start a cluster of their own."""
    if not _shared:
        _shared.append(EtcdCluster(Path(tempfile.mkdtemp(prefix="kv-etcd-"))).start())
    return _shared[0]


def stop_shared_cluster() -> None:
    while _shared:
        cluster = _shared.pop()
        try:
            cluster.stop()
        finally:
            shutil.rmtree(cluster.root, ignore_errors=True)


def etcd_store(
    directory: Path, *, timeout: float = 10.0, history: HistoryLimits | None = None
) -> EtcdStore:
    """An EtcdStore over the shared cluster, under a prefix that only `directory`'s test uses.

    The deadline is generous: tests run on a loaded machine, and a slow fsync is not a fault.
    """
    tag = hashlib.sha256(str(directory).encode()).hexdigest()[:16]
    return EtcdStore(
        shared_cluster().endpoints, prefix=f"/kv-test/{tag}/", timeout=timeout, history=history
    )
