"""Transports, chosen by name (`TRANSPORT`) through `TRANSPORTS`.

Adding a transport: write a package with a class that satisfies `Transport`,
built from the service and the settings, and add one line to `TRANSPORTS`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from kv.config import Settings
from kv.domain import KeyValueService


class Transport(Protocol):
    """A listener that serves the KV operations over one protocol."""

    name: str

    @property
    def address(self) -> str:
        """Where it listens, for the start-up log line."""
        ...

    async def start(self) -> None:
        """Bind and start serving; raise OSError when the address cannot be bound."""
        ...

    def drain(self) -> None:
        """Start reporting not-ready; called on shutdown before `stop`."""
        ...

    async def stop(self) -> None:
        """Stop accepting and finish the requests in flight."""
        ...


def _http(service: KeyValueService, settings: Settings) -> Transport:
    from kv.transports.http import HttpTransport

    return HttpTransport(service, settings)


def _grpc(service: KeyValueService, settings: Settings) -> Transport:
    from kv.transports.grpc import GrpcTransport

    return GrpcTransport(service, settings)


def _resp(service: KeyValueService, settings: Settings) -> Transport:
    from kv.transports.resp import RespTransport

    return RespTransport(service, settings)


TRANSPORTS: dict[str, Callable[[KeyValueService, Settings], Transport]] = {
    "http": _http,
    "grpc": _grpc,
    "resp": _resp,
}
