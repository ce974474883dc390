"""Storage adapters, chosen by name (`KV_STORE`) through `STORES`.

Adding an engine: write one module with a class that satisfies
`kv.domain.Store`, and add one line to `STORES`. A factory gets the settings
and the service's metrics (a durable store reports its commits there). Factories import their
module lazily, so a driver is only needed when its engine is chosen.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from kv.config import Settings
from kv.domain import Store
from kv.observability import Metrics

if TYPE_CHECKING:
    from kv.adapters.history import HistoryLimits


def _memory(settings: Settings, metrics: Metrics) -> Store:
    from kv.adapters.memory import InMemoryStore

    return InMemoryStore(history=_history(settings))


def _sqlite(settings: Settings, metrics: Metrics) -> Store:
    from kv.adapters.sqlite import SqliteStore

    return SqliteStore(
        settings.data_dir,
        integrity_check=settings.sqlite_integrity_check,
        on_commit=metrics.observe_commit,
        history=_history(settings),
    )


def _history(settings: Settings) -> HistoryLimits:
    """The change feed's bounds (KV_WATCH_HISTORY_EVENTS, KV_WATCH_HISTORY_BYTES)."""
    from kv.adapters.history import HistoryLimits

    return HistoryLimits(settings.watch_history_events, settings.watch_history_bytes)


def _etcd(settings: Settings, metrics: Metrics) -> Store:
    from kv.adapters.etcd import EtcdStore
    from kv.adapters.etcd.security import EtcdSecurity

    return EtcdStore(
        settings.etcd_endpoints,
        prefix=settings.etcd_prefix,
        timeout=settings.etcd_timeout,
        history=_history(settings),
        security=EtcdSecurity.from_settings(settings),
    )


STORES: dict[str, Callable[[Settings, Metrics], Store]] = {
    "memory": _memory,
    "sqlite": _sqlite,
    "etcd": _etcd,
}


def build_store(settings: Settings, metrics: Metrics) -> Store:
    """The store named by `settings.store`; config already refused unknown names."""
    return STORES[settings.store](settings, metrics)
