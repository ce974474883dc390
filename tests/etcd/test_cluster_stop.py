"""No etcd process a test run started outlives the run, however the run ends.

Each case runs pytest in a subprocess over a test that takes the shared
cluster and starts a cluster of its own, and then ends before stopping
its own: by failing under `-x`, or by the run being sent SIGTERM. The
test writes down its etcd PIDs; once that pytest has exited, none may run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.etcd.cluster import EtcdCluster, require_etcd

ROOT = Path(__file__).resolve().parents[2]
# The project's settings and root conftest (its session teardown) for a test file outside tests/.
PYTEST_OPTIONS = ["-q", "--no-cov", "-p", "no:cacheprovider", "-p", "tests.conftest"]
PYTEST_OPTIONS += ["-c", str(ROOT / "pyproject.toml"), "--rootdir", str(ROOT)]

ABANDONING_TEST = """
import os
import signal
import time
from pathlib import Path

from tests.etcd.cluster import EtcdCluster, shared_cluster


def test_ends_before_stopping_its_cluster(tmp_path: Path) -> None:
    own = EtcdCluster(tmp_path / "own", size=1).start()
    with Path(os.environ["ETCD_PIDS"]).open("w") as pids:
        for cluster in (shared_cluster(), own):
            pids.writelines(f"{member.process.pid}\\n" for member in cluster.members)
    if os.environ["ENDING"] == "sigterm":
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(60)
    raise AssertionError("fails on purpose, before stopping its cluster")


def test_not_reached_under_x() -> None:
    pass
"""


def etcd_running(pid: int) -> bool:
    """Whether `pid` is a live (not zombie) etcd process."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return b"etcd" in command and state != "Z"


@pytest.mark.parametrize("ending", ["failure", "sigterm"])
def test_no_etcd_process_outlives_the_run(tmp_path: Path, ending: str) -> None:
    require_etcd()
    test_file = tmp_path / "test_abandoning.py"
    test_file.write_text(ABANDONING_TEST)
    pids_file = tmp_path / "pids"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-x", *PYTEST_OPTIONS, str(test_file)],
        cwd=ROOT,
        env={**os.environ, "ETCD_PIDS": str(pids_file), "ENDING": ending},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = run.stdout + run.stderr
    pids = [int(line) for line in pids_file.read_text().split()]
    survivors = [pid for pid in pids if etcd_running(pid)]
    for pid in survivors:  # a failure here leaves nothing behind either
        os.kill(pid, signal.SIGKILL)
    assert run.returncode == (2 if ending == "sigterm" else 1), output
    assert len(pids) == 4, output  # the shared cluster's 3 members and its own one
    assert survivors == [], output
    assert "left running by tests, stopped at the end: /usr/bin/etcd --name m0" in output


def test_a_cluster_that_does_not_become_healthy_is_stopped_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[int] = []

    def unhealthy(self: EtcdCluster, timeout: float = 0.0) -> None:
        started.extend(member.process.pid for member in self.members if member.process)
        raise AssertionError("not healthy, on purpose")

    monkeypatch.setattr(EtcdCluster, "wait_healthy", unhealthy)
    with pytest.raises(AssertionError, match="on purpose"):
        EtcdCluster(tmp_path / "etcd", size=1).start()
    survivors = [pid for pid in started if etcd_running(pid)]
    for pid in survivors:
        os.kill(pid, signal.SIGKILL)
    assert len(started) == 1
    assert survivors == []


def test_a_stopped_cluster_starts_no_member_again(tmp_path: Path) -> None:
    """The fault test restarts members from a thread, which may outlive the test's `stop`."""
    cluster = EtcdCluster(tmp_path / "etcd", size=1).start()
    cluster.stop()
    with pytest.raises(RuntimeError, match="stays down"):
        cluster.start_member(cluster.members[0])
