"""`kv backup` and `kv restore` move a store memory -> sqlite -> etcd -> memory, values unchanged.

Real kv-server processes and the `kv` console script: each store is backed
up, restored into the next (empty) one, and backed up again; every backup
holds the same keys with byte-for-byte the same values. A restore into a
store that holds keys is refused unless forced.
"""

from __future__ import annotations

import json
import subprocess
import urllib.request
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.etcd.cluster import shared_cluster
from tests.servers import KvServer, script, start_kv_server

pytestmark = pytest.mark.e2e
KV_TIMEOUT = 120.0

VALUES: list[object] = [
    "plain",
    "",
    'line\nbreak "quoted" \\ tab\t é 日本 \U0001f600',
    0,
    -7,
    2**63 + 1,
    10**30,
    1.5,
    -0.0,
    1e-300,
    12345678.901234567,
    True,
    False,
    None,
    [],
    {},
    {"value": {"revision": [1, {"value": None}]}, ',"revision":': 1},
    [[[[["deep"]]]]],
    {"big": "x" * 100_000},
]
KEYS = ["a", "a/b", "a/b/", "é", "key with spaces", "日本/語", "\U0001f600", "z" * 1000]


def kv(server: KvServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [script("kv"), "--url", server.url, *args],
        capture_output=True,
        text=True,
        timeout=KV_TIMEOUT,
        check=False,
    )


def put(server: KvServer, key: str, body: dict[str, object]) -> None:
    request = urllib.request.Request(
        f"{server.url}/v1/kv/{quote(key, safe='')}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="PUT",
    )
    with urllib.request.urlopen(request, timeout=KV_TIMEOUT) as answer:
        assert answer.status == 201


def entry_fields(path: Path) -> list[tuple[str, bytes, bool]]:
    """(key, the value's JSON exactly as in the file, whether it has a ttl) of each entry line."""
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b""
    found = []
    for line in lines[1:-2]:
        key = json.loads(line)["key"]
        # The key's JSON comes first, and a JSON string never holds an unescaped quote.
        start = line.index(b',"value":') + len(b',"value":')
        end = line.rindex(b',"revision":')
        found.append((key, line[start:end], b',"ttl":' in line[end:]))
    return found


def backup(server: KvServer, path: Path) -> list[tuple[str, bytes, bool]]:
    finished = kv(server, "backup", str(path))
    assert finished.returncode == 0, finished.stderr
    summary = json.loads(finished.stdout)
    fields = entry_fields(path)
    assert summary["entries"] == len(fields)
    return fields


def restore(server: KvServer, path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return kv(server, "restore", str(path), *extra)


def test_memory_to_sqlite_to_etcd_to_memory_keeps_every_value(tmp_path: Path) -> None:
    etcd_env = {
        "KV_STORE": "etcd",
        "KV_ETCD_ENDPOINTS": ",".join(shared_cluster().endpoints),
        "KV_ETCD_PREFIX": f"/kv-round-trip-{tmp_path.name}/",
    }
    stores = [("memory", {}), ("sqlite", {"KV_STORE": "sqlite"}), ("etcd", etcd_env)]
    stores.append(("memory-again", {}))
    servers: list[KvServer] = []
    try:
        for name, env in stores:
            directory = tmp_path / name
            directory.mkdir()
            servers.append(start_kv_server(directory, env))
        first = servers[0]
        for number, value in enumerate(VALUES):
            put(first, KEYS[number % len(KEYS)] + f"/{number:02}", {"value": value})
        put(first, "expiring", {"value": "soon", "ttl": 3600})

        backups = [backup(first, tmp_path / "0.ndjson")]
        for number, server in enumerate(servers[1:], start=1):
            restored = restore(server, tmp_path / f"{number - 1}.ndjson")
            assert restored.returncode == 0, restored.stderr
            summary = json.loads(restored.stdout)
            assert summary["written"] == summary["present"] == len(VALUES) + 1
            backups.append(backup(server, tmp_path / f"{number}.ndjson"))

        assert len(backups[0]) == len(VALUES) + 1
        for later in backups[1:]:
            assert later == backups[0]
        assert ("expiring", b'"soon"', True) in backups[-1]
        stored = {key: json.loads(value) for key, value, _ in backups[-1]}
        assert sorted(stored.values(), key=repr) == sorted([*VALUES, "soon"], key=repr)

        refused = restore(servers[1], tmp_path / "0.ndjson")
        assert refused.returncode == 1
        assert "--force" in refused.stderr
        forced = restore(servers[1], tmp_path / "0.ndjson", "--force")
        assert forced.returncode == 0, forced.stderr
    finally:
        for server in servers:
            server.process.stop()
