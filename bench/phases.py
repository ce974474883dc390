"""The HTTP, gRPC and etcd phases of `make bench`: each starts its servers, loads them in turn.

Every phase adds its figures to `figures` under the keys bench/rows.py names.
HTTP and gRPC load kv-server, the bare framework ceiling, and kv-server with
TLS and an auth file (every request carrying the token) one after another.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from functools import partial
from pathlib import Path

from bench import loads
from bench.etcd_cluster import etcd_cluster
from bench.kvserver import (
    KEYS,
    bench_key,
    kv_server,
    load_etcd,
    load_http,
    measured,
    seed_grpc,
)
from bench.processes import HOST, free_port, python_module, running
from bench.resp import redis_server
from bench.rows import BytesPerKey, Figure
from bench.rss import redis_per_key
from bench.tls import secured_kv_server

Figures = dict[str, Figure]


def http_phase(figures: Figures, duration: float) -> None:
    port = free_port()
    with (
        kv_server("kv-http") as kv,
        running(
            "ceiling-http", python_module("bench.ceiling_http", str(port)), ports={"http": port}
        ) as ceiling,
        secured_kv_server("kv-tls-http", "http") as secured,
    ):
        for server in (kv, ceiling):
            load_http(server.ports["http"])
        bearer = {"Authorization": f"Bearer {secured.token}"}
        load_http(secured.server.ports["http"], bearer, secured.client_context())
        sides = (
            ("kv", kv, f"http://{HOST}:{kv.ports['http']}", {}),
            ("ceiling", ceiling, f"http://{HOST}:{ceiling.ports['http']}", {}),
            (
                "kv-tls",
                secured.server,
                f"https://{HOST}:{secured.server.ports['http']}",
                {"TOKEN": secured.token},
            ),
        )
        for operation in ("get", "put"):
            for name, server, url, env in sides:
                script = f"kv_{operation}" + ("_auth" if env and operation == "get" else "")
                figures[f"{name}-http-{operation}"] = measured(
                    server,
                    partial(loads.wrk, url, script, duration=duration, keys=KEYS, env=env),
                )


def grpc_phase(figures: Figures, duration: float) -> None:
    from google.protobuf import struct_pb2

    from kv.v1 import kv_pb2

    value = struct_pb2.Value(string_value=f"value-{0:026d}")
    get = kv_pb2.GetRequest(key=bench_key(0)).SerializeToString()
    put = kv_pb2.PutRequest(key=bench_key(0), value=value).SerializeToString()
    port = free_port()
    with (
        kv_server("kv-grpc", "grpc") as kv,
        running(
            "ceiling-grpc", python_module("bench.ceiling_grpc", str(port)), ports={"grpc": port}
        ) as ceiling,
        secured_kv_server("kv-tls-grpc", "grpc") as secured,
    ):
        for server in (kv, ceiling):
            seed_grpc(server.ports["grpc"], put, get)
        token = (("authorization", f"Bearer {secured.token}"),)
        seed_grpc(secured.server.ports["grpc"], put, get, secured.ca, token)
        sides = (
            ("kv", kv, "http", ()),
            ("ceiling", ceiling, "http", ()),
            ("kv-tls", secured.server, "https", (f"authorization: Bearer {secured.token}",)),
        )
        for operation, message in (("put", put), ("get", get)):
            for name, server, scheme, headers in sides:
                url = f"{scheme}://{HOST}:{server.ports['grpc']}/kv.v1.KeyValue/{operation.title()}"
                figures[f"{name}-grpc-{operation}"] = measured(
                    server,
                    partial(loads.h2load_grpc, url, message, duration=duration, headers=headers),
                )


def cluster_phase(figures: Figures, duration: float) -> None:
    """PUT at kv-server over a 3-member etcd cluster (1 replica) and at etcd's JSON gateway."""
    with (
        tempfile.TemporaryDirectory(prefix="kv-bench-cluster-") as data,
        etcd_cluster(Path(data)) as members,
    ):
        clients = [member.ports["client"] for member in members]
        endpoints = ",".join(f"{HOST}:{port}" for port in clients)
        with kv_server("kv-etcd", KV_STORE="etcd", KV_ETCD_ENDPOINTS=endpoints) as kv:
            load_http(kv.ports["http"])
            load_etcd(clients[0])
            for name, server, url, script in (
                ("etcd-gateway", members[0], f"http://{HOST}:{clients[0]}", "etcd_put"),
                ("kv-etcd", kv, f"http://{HOST}:{kv.ports['http']}", "kv_put"),
            ):
                figures[f"{name}-put"] = measured(
                    server, partial(loads.wrk, url, script, duration=duration, keys=KEYS)
                )


def etcd_phase(figures: Figures, duration: float) -> None:
    """GET and PUT at a single etcd node through its JSON gateway."""
    client, peer = free_port(), free_port()
    with tempfile.TemporaryDirectory(prefix="kv-bench-etcd-") as data:
        urls = {"client": f"http://{HOST}:{client}", "peer": f"http://{HOST}:{peer}"}
        command = [
            "etcd",
            *("--name", "bench", "--data-dir", data, "--log-level", "error"),
            *("--listen-client-urls", urls["client"], "--advertise-client-urls", urls["client"]),
            *("--listen-peer-urls", urls["peer"], "--initial-advertise-peer-urls", urls["peer"]),
            *("--initial-cluster", f"bench={urls['peer']}"),
        ]
        with running("etcd", command, ports={"client": client}) as etcd:
            load_etcd(client)
            for operation in ("get", "put"):
                figures[f"etcd-{operation}"] = measured(
                    etcd,
                    partial(
                        loads.wrk, urls["client"], f"etcd_{operation}", duration=duration, keys=KEYS
                    ),
                )


def durable_phase(figures: Figures, duration: float) -> None:
    """PUT at kv-server on the sqlite store (it answers once the write is on disk)."""
    with (
        tempfile.TemporaryDirectory(prefix="kv-bench-sqlite-") as data,
        kv_server("kv-sqlite", KV_STORE="sqlite", KV_DATA_DIR=data) as kv,
    ):
        load_http(kv.ports["http"])
        url = f"http://{HOST}:{kv.ports['http']}"
        figures["kv-sqlite-put"] = measured(
            kv, partial(loads.wrk, url, "kv_put", duration=duration, keys=KEYS)
        )


def rss_phase(figures: Figures, keys: int) -> None:
    """Bytes per key of kv's memory store (python -m bench.rss) and of redis-server, same keys."""
    done = subprocess.run(
        python_module("bench.rss", str(keys)),
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
        timeout=600,
    )
    figures["kv-rss"] = BytesPerKey(json.loads(done.stdout)["bytes_per_key"], keys, "VmRSS")
    with (
        tempfile.TemporaryDirectory(prefix="kv-bench-rss-") as data,
        redis_server("redis-rss", Path(data), "--appendonly", "no") as redis,
    ):
        theirs = redis_per_key(redis.ports["resp"], redis.process.pid, keys)
    figures["redis-rss"] = BytesPerKey(
        theirs["bytes_per_key"],
        keys,
        f"VmRSS; INFO used_memory {theirs['used_memory_per_key']:.0f} B/key",
    )
