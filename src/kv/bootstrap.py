"""The composition root: builds the service and its transports from settings.

Every dependency can be passed in, so tests build the same graph with fakes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from kv.adapters import STORES, build_store
from kv.config import Settings
from kv.domain import KeyValueService, Store
from kv.lifecycle import Reloadable
from kv.observability import Metrics, Observability
from kv.tls import ServerTls, TlsFiles
from kv.transports import TRANSPORTS, Transport, port_settings


def read_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from the environment, checked against the registered names."""
    return Settings.from_env(environ, transports=port_settings(), stores=tuple(STORES))


@dataclass(frozen=True, slots=True)
class Application:
    """A service, the transports serving it and what observes their requests."""

    service: KeyValueService
    transports: tuple[Transport, ...]
    observability: Observability
    # What SIGHUP re-reads (kv.lifecycle.reload).
    reloadables: tuple[Reloadable, ...] = ()


def bootstrap(
    settings: Settings, *, store: Store | None = None, metrics: Metrics | None = None
) -> Application:
    """Wire the store, the service and every transport named by `settings.transports`."""
    metrics = metrics if metrics is not None else Metrics()
    if store is None:
        store = build_store(settings, metrics)
    # A store that can count its keys cheaply offers `key_count()` (not part of
    # the domain's port: the domain has no use for it).
    key_count = getattr(store, "key_count", None)
    if callable(key_count):
        metrics.count_keys_with(key_count)
    service = KeyValueService(
        store, max_value_bytes=settings.max_value_bytes, max_watches=settings.max_watchers
    )
    observability = Observability(
        metrics,
        access_log=settings.access_log,
        slow_request_seconds=settings.slow_request_seconds,
    )
    tls_files = TlsFiles.from_settings(settings)
    tls = None if tls_files is None else ServerTls(tls_files)
    transports = tuple(
        TRANSPORTS[name].load()(service, settings, observability, tls=tls)
        for name in settings.transports
    )
    return Application(service, transports, observability, () if tls is None else (tls,))
