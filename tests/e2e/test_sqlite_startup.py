"""`kv-server` with KV_STORE=sqlite refuses to start on a bad KV_DATA_DIR: one line, exit 2."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.servers import free_port, script, start_kv_server

pytestmark = pytest.mark.e2e


def run_server(data_dir: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "KV_STORE": "sqlite",
        "KV_DATA_DIR": str(data_dir),
        "KV_HOST": "127.0.0.1",
        "KV_HTTP_PORT": str(free_port()),
        **extra,
    }
    return subprocess.run(
        [script("kv-server")], env=env, capture_output=True, text=True, timeout=30, check=False
    )


def assert_refused(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("kv-server: KV_DATA_DIR: ")
    for fragment in fragments:
        assert fragment in lines[0]
    assert "Traceback" not in result.stderr + result.stdout


def test_a_file_that_is_not_a_database_stops_start_up(tmp_path: Path) -> None:
    (tmp_path / "kv.sqlite3").write_bytes(b"not a database\n" * 512)
    assert_refused(run_server(tmp_path), "not a database")


def test_a_data_dir_that_cannot_be_created_stops_start_up(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    assert_refused(run_server(tmp_path / "a-file" / "data"), "cannot create")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only directories")
def test_a_read_only_data_dir_stops_start_up(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o500)
    assert_refused(run_server(data_dir))


def test_a_second_server_on_the_same_data_dir_is_refused(tmp_path: Path) -> None:
    first = start_kv_server(tmp_path, {"KV_STORE": "sqlite"})
    try:
        assert_refused(run_server(tmp_path / "data"), "locked")
    finally:
        first.process.stop()


def test_a_missing_data_dir_is_created_and_checked_when_asked(tmp_path: Path) -> None:
    server = start_kv_server(
        tmp_path,
        {
            "KV_STORE": "sqlite",
            "KV_DATA_DIR": str(tmp_path / "new" / "data"),
            "KV_SQLITE_INTEGRITY_CHECK": "true",
        },
    )
    assert server.process.stop() == 0
    assert (tmp_path / "new" / "data" / "kv.sqlite3").is_file()
