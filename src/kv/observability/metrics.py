"""The service's Prometheus metrics (`GET /metrics` on the HTTP transport).

One `Metrics` per application, each with a registry of its own: nothing is
registered at import time, and two services in one process (tests) keep
separate counts. Every transport's requests are counted here, so a process
serving HTTP and gRPC reports both on the HTTP listener.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.metrics_core import HistogramMetricFamily

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Seconds: from a read served from memory to a write that waits for fsync.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
# Changes per store transaction; the sqlite store writes at most 1024.
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class RequestLatencies:
    """`kv_request_duration_seconds`: a histogram of requests by transport, operation, outcome.

    Its `_count` series are the requests answered by transport, operation and
    outcome. Kept as plain counters rather than a prometheus_client `Histogram`,
    which takes a lock for each of its updates (three per request): every
    transport serves on the event loop's thread, and `/metrics` is read there
    too, so nothing here is shared between threads.
    """

    def __init__(self) -> None:
        # Per label values: a count per bucket (the last one +Inf), then the sum.
        self._series: dict[tuple[str, str, str], list[float]] = {}
        self._bounds = [*(repr(float(bound)) for bound in LATENCY_BUCKETS), "+Inf"]

    def observe(self, labels: tuple[str, str, str], seconds: float) -> None:
        series = self._series.get(labels)
        if series is None:
            series = self._series[labels] = [0] * (len(LATENCY_BUCKETS) + 2)
        series[bisect_left(LATENCY_BUCKETS, seconds)] += 1  # the first bound >= seconds
        series[-1] += seconds

    def collect(self) -> Iterator[HistogramMetricFamily]:
        family = HistogramMetricFamily(
            "kv_request_duration_seconds",
            "Requests answered, by transport, operation and outcome (the protocol's status), "
            "and the time from their arrival at the transport to their answer.",
            labels=("transport", "operation", "outcome"),
        )
        for labels, series in self._series.items():
            cumulative, buckets = 0.0, []
            for bound, count in zip(self._bounds, series[:-1], strict=True):
                cumulative += count
                buckets.append((bound, cumulative))
            family.add_metric(list(labels), buckets, sum_value=series[-1])
        yield family


class Metrics:
    """Requests by transport, operation and outcome with their latency; store commits; keys held."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._requests = RequestLatencies()
        self.registry.register(self._requests)
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
        self._refusals = Counter(
            "kv_auth_refusals",
            "Requests refused by access control, by transport and reason (Unauthenticated, "
            "BadCredentials, PermissionDenied, ProtectedMode).",
            labelnames=("transport", "reason"),
            registry=self.registry,
        )

    def observe_request(self, transport: str, operation: str, outcome: str, seconds: float) -> None:
        """Count one answered request and its latency (on the event loop's thread)."""
        self._requests.observe((transport, operation, outcome), seconds)

    def observe_refusal(self, transport: str, reason: str) -> None:
        """Count one request refused by access control (a 401 or 403, or their equivalent)."""
        self._refusals.labels(transport, reason).inc()

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
