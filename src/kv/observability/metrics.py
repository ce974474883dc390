"""The service's Prometheus metrics (`GET /metrics` on the HTTP transport).

One `Metrics` per application, each with a registry of its own: nothing is
registered at import time, and two services in one process (tests) keep
separate counts. Every transport's requests are counted here, so a process
serving HTTP and gRPC reports both on the HTTP listener.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.metrics import Counter as _Counter
from prometheus_client.metrics import Histogram as _Histogram

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Seconds: from a read served from memory to a write that waits for fsync.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
# Changes per store transaction; the sqlite store writes at most 1024.
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class Metrics:
    """Requests by transport, operation and outcome; latency; store commits; keys held."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._requests = Counter(
            "kv_requests",
            "Requests answered, by transport, operation and outcome (the protocol's status).",
            ("transport", "operation", "outcome"),
            registry=self.registry,
        )
        self._latency = Histogram(
            "kv_request_duration_seconds",
            "Time from a request's arrival at the transport to its answer.",
            ("transport", "operation"),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._batch = Histogram(
            "kv_store_commit_batch_size",
            "Changes written by one store transaction (group commit).",
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )
        self._sync = Histogram(
            "kv_store_commit_duration_seconds",
            "Time to write one store transaction and sync it to disk.",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._keys = Gauge("kv_keys", "Keys held by the store.", registry=self.registry)
        # Label look-ups take a lock and build a tuple: keep the children.
        self._children: dict[tuple[str, str, str], tuple[_Counter, _Histogram]] = {}

    def observe_request(self, transport: str, operation: str, outcome: str, seconds: float) -> None:
        """Count one answered request and its latency."""
        key = (transport, operation, outcome)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                self._requests.labels(transport, operation, outcome),
                self._latency.labels(transport, operation),
            )
        children[0].inc()
        children[1].observe(seconds)

    def observe_commit(self, changes: int, seconds: float) -> None:
        """One store transaction of `changes` changes, written and synced in `seconds`.

        Thread-safe: the sqlite store's writer thread calls it.
        """
        self._batch.observe(changes)
        self._sync.observe(seconds)

    def count_keys_with(self, count: Callable[[], int]) -> None:
        """Report `count()` as the keys held, called at each scrape."""
        self._keys.set_function(lambda: float(count()))

    def render(self) -> bytes:
        """Every metric in the Prometheus text format (`CONTENT_TYPE`)."""
        return generate_latest(self.registry)
