"""The composition root: builds the service and its transports from settings.

Every dependency can be passed in, so tests build the same graph with fakes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from kv.adapters import STORES, build_store
from kv.config import Settings
from kv.domain import KeyValueService, Store
from kv.transports import TRANSPORTS, Transport


def read_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from the environment, checked against the registered names."""
    return Settings.from_env(environ, transports=tuple(TRANSPORTS), stores=tuple(STORES))


@dataclass(frozen=True, slots=True)
class Application:
    """A service and the transports serving it."""

    service: KeyValueService
    transports: tuple[Transport, ...]


def bootstrap(settings: Settings, *, store: Store | None = None) -> Application:
    """Wire the store, the service and every transport named by `settings.transports`."""
    service = KeyValueService(
        store if store is not None else build_store(settings),
        max_value_bytes=settings.max_value_bytes,
    )
    transports = tuple(TRANSPORTS[name](service, settings) for name in settings.transports)
    return Application(service, transports)
