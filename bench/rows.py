"""What `make bench` reports: each row is ours against a peer, both measured in the same run.

A row names two figures of the run (by key), the target the ratio must reach
(or, for memory, the bytes per key ours must stay within) and the phase of
`python -m bench.run` that measures both, which is the command that reproduces
the row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bench.loads import LoadResult


@dataclass(frozen=True)
class BytesPerKey:
    """Memory a store holds per key: the growth of its process over `keys` keys."""

    bytes_per_key: float
    keys: int
    note: str = ""


Figure = LoadResult | BytesPerKey
Figures = Mapping[str, Figure]


@dataclass(frozen=True)
class Row:
    """`ours` against `theirs`: the ratio ours / theirs must be at least `target`.

    With `at_most_bytes` the figures are bytes per key, and `target` is the
    most ours may hold per key (the ratio is still shown).
    """

    label: str
    ours: str
    theirs: str
    target: float
    phase: str  # the phases of `python -m bench.run --only` that measure both figures
    at_most_bytes: bool = False


def value(figure: Figure) -> float:
    if isinstance(figure, BytesPerKey):
        return figure.bytes_per_key
    return figure.requests_per_second


def ratio(row: Row, figures: Figures) -> float | None:
    """ours / theirs, or None when either was not measured (or theirs is zero)."""
    ours, theirs = figures.get(row.ours), figures.get(row.theirs)
    if ours is None or theirs is None or value(theirs) == 0:
        return None
    return value(ours) / value(theirs)


def met(row: Row, figures: Figures) -> bool | None:
    """Whether the row reaches its target; None when it was not measured."""
    found = ratio(row, figures)
    if found is None:
        return None
    if row.at_most_bytes:
        return value(figures[row.ours]) <= row.target
    return found >= row.target


def _resp(operation: str, pipeline: str, suffix: str) -> list[Row]:
    """kv's RESP `operation` against redis-server and against the bare ceiling."""
    target = 0.5 if suffix else 0.8
    what = f"RESP {operation.upper()}, redis-benchmark -c 50{pipeline}"
    return [
        Row(
            f"{what}", f"kv-resp-{operation}{suffix}", f"redis-{operation}{suffix}", target, "resp"
        ),
        Row(
            f"{what}, against the ceiling",
            f"kv-resp-{operation}{suffix}",
            f"ceiling-resp-{operation}{suffix}",
            target,
            "resp",
        ),
    ]


ISSUE_ROWS = [
    *_resp("set", "", ""),
    *_resp("get", "", ""),
    *_resp("set", " -P 16", "-p16"),
    *_resp("get", " -P 16", "-p16"),
    Row(
        "RESP SET with sqlite, -P 16", "kv-sqlite-resp-set-p16", "redis-always-set-p16", 0.3, "resp"
    ),
    Row("HTTP GET", "kv-http-get", "ceiling-http-get", 0.80, "http"),
    Row("HTTP PUT", "kv-http-put", "ceiling-http-put", 0.75, "http"),
    Row("gRPC Get", "kv-grpc-get", "ceiling-grpc-get", 0.80, "grpc"),
    Row("gRPC Put", "kv-grpc-put", "ceiling-grpc-put", 0.80, "grpc"),
    Row("PUT over etcd, 1 replica", "kv-etcd-put", "etcd-gateway-put", 0.5, "cluster"),
    Row("RSS per key, memory store", "kv-rss", "redis-rss", 200.0, "rss", at_most_bytes=True),
]

# The same loads at kv-server with TLS and an auth file (every request carries the token),
# against the plain ceilings: the targets hold with access control and TLS on.
SECURE_ROWS = [
    Row("HTTP GET, TLS + token", "kv-tls-http-get", "ceiling-http-get", 0.80, "http"),
    Row("HTTP PUT, TLS + token", "kv-tls-http-put", "ceiling-http-put", 0.75, "http"),
    Row("gRPC Get, TLS + token", "kv-tls-grpc-get", "ceiling-grpc-get", 0.80, "grpc"),
    Row("gRPC Put, TLS + token", "kv-tls-grpc-put", "ceiling-grpc-put", 0.80, "grpc"),
    *(
        Row(
            f"RESP {operation.upper()}{pipeline}, TLS + token",
            f"kv-tls-resp-{operation}{suffix}",
            f"ceiling-resp-{operation}{suffix}",
            0.5 if suffix else 0.8,
            "resp",
        )
        for pipeline, suffix in (("", ""), (" -P 16", "-p16"))
        for operation in ("set", "get")
    ),
]

# Earlier targets, kept measured: kv-server over HTTP against a single etcd node.
OTHER_ROWS = [
    Row("HTTP GET against etcd", "kv-http-get", "etcd-get", 2.5, "http,etcd"),
    Row("HTTP PUT (memory) against etcd", "kv-http-put", "etcd-put", 1.5, "http,etcd"),
    Row("durable PUT (sqlite) against etcd", "kv-sqlite-put", "etcd-put", 1.0, "durable,etcd"),
]

NAMES = {
    "kv-resp": "kv-server",
    "kv-tls-resp": "kv-server, TLS + token",
    "kv-sqlite-resp": "kv-server (sqlite)",
    "redis": "redis-server (no persistence)",
    "redis-always": "redis-server (appendfsync always)",
    "ceiling-resp": "bare uvloop + hiredis",
    "kv-http": "kv-server",
    "kv-tls-http": "kv-server, TLS + token",
    "ceiling-http": "bare aiohttp",
    "kv-grpc": "kv-server",
    "kv-tls-grpc": "kv-server, TLS + token",
    "ceiling-grpc": "bare grpc.aio",
    "kv-etcd": "kv-server (etcd, 1 replica)",
    "etcd-gateway": "etcd JSON gateway",
    "kv-rss": "kv-server memory store",
    "redis-rss": "redis-server",
    "etcd": "etcd (one node)",
    "kv-sqlite": "kv-server (sqlite)",
}


def name(key: str) -> str:
    """Who a figure's key measured: its longest known prefix in NAMES."""
    for end in range(len(key), 0, -1):
        if key[:end] in NAMES and (end == len(key) or key[end] == "-"):
            return NAMES[key[:end]]
    return key
