"""Two real kv-server replicas over one etcd cluster serve one consistent store."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from testclient.scenarios import SCENARIOS
from tests.etcd.cluster import EtcdCluster, shared_cluster
from tests.servers import KvServer, script, start_kv_server

pytestmark = pytest.mark.e2e


def start_replicas(
    tmp_path: Path, cluster: EtcdCluster, count: int = 2, timeout: str = "10"
) -> list[KvServer]:
    """`count` kv-server processes over `cluster` (HTTP and gRPC), under a prefix of this test's."""
    env = {
        "TRANSPORT": "http,grpc",
        "KV_STORE": "etcd",
        "KV_ETCD_ENDPOINTS": ",".join(cluster.endpoints),
        "KV_ETCD_PREFIX": f"/kv-replicas-{tmp_path.name}/",
        "KV_ETCD_TIMEOUT": timeout,
    }
    replicas: list[KvServer] = []
    for number in range(count):
        directory = tmp_path / f"replica{number}"
        directory.mkdir()
        replicas.append(start_kv_server(directory, env))
    return replicas


@pytest.fixture
def replicas(tmp_path: Path) -> Iterator[list[KvServer]]:
    started = start_replicas(tmp_path, shared_cluster())
    yield started
    for replica in started:
        assert replica.process.stop() == 0, replica.process.log()


async def call(
    http: aiohttp.ClientSession, method: str, url: str, **kwargs: Any
) -> tuple[int, dict[str, Any]]:
    async with http.request(method, url, **kwargs) as response:
        return response.status, await response.json()


async def test_a_write_acknowledged_by_one_replica_is_read_by_the_other_at_once(
    replicas: list[KvServer],
) -> None:
    a, b = (replica.url + "/v1/kv/" for replica in replicas)
    async with aiohttp.ClientSession() as http:
        for n in range(20):
            writer, reader = (a, b) if n % 2 == 0 else (b, a)
            status, written = await call(http, "PUT", writer + "k", json={"value": n})
            assert status in (200, 201), written
            # No polling: the other replica's read is linearizable.
            status, read = await call(http, "GET", reader + "k")
            assert (status, read) == (
                200,
                {"key": "k", "value": n, "revision": written["revision"]},
            )


async def test_revisions_are_one_sequence_and_conditions_hold_across_replicas(
    replicas: list[KvServer],
) -> None:
    a, b = (replica.url + "/v1/kv/" for replica in replicas)
    async with aiohttp.ClientSession() as http:
        results = await asyncio.gather(
            *(call(http, "PUT", (a, b)[n % 2] + f"k{n}", json={"value": n}) for n in range(40))
        )
        revisions = [body["revision"] for _, body in results]
        assert len(set(revisions)) == 40  # every write its own revision of one counter
        status, created = await call(http, "POST", a + "once", json={"value": 1})
        assert status == 201
        status, refused = await call(http, "POST", b + "once", json={"value": 2})
        assert (status, refused["error"]["code"]) == (409, "already_exists")
        revision = created["revision"]
        tag = {"If-Match": f'"{revision}"'}
        status, _ = await call(http, "PUT", b + "once", json={"value": 3}, headers=tag)
        assert status == 200
        status, stale = await call(http, "PUT", a + "once", json={"value": 4}, headers=tag)
        assert (status, stale["error"]["code"]) == (412, "precondition_failed")
        status, same = await call(http, "PUT", a + "once", json={"value": 3})
        assert status == 200
        assert same["revision"] > max(revisions)
        status, again = await call(http, "PUT", b + "once", json={"value": 3})
        assert again["revision"] == same["revision"]  # the same value changes nothing


@pytest.mark.parametrize("transport", ["http", "grpc"])
def test_every_test_client_scenario_passes_over_two_replicas(
    replicas: list[KvServer], transport: str
) -> None:
    """The test client's full run, `replicas` included (writes through each, reads through both)."""
    result = subprocess.run(
        [
            script("kv-testclient"),
            "run",
            *SCENARIOS,
            "--json",
            "--transport",
            transport,
            "--url",
            ",".join(replica.url for replica in replicas),
            "--target",
            ",".join(replica.grpc_target for replica in replicas),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    report = json.loads(result.stdout)
    assert result.returncode == 0, json.dumps(report, indent=1)
    assert report["success"]
    assert "replicas" in {scenario["test"] for scenario in report["results"]}
