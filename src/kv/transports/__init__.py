"""Transports, chosen by name (`TRANSPORT`) through `TRANSPORTS`.

Adding a transport: write a package whose class satisfies `Transport` (built
from the service, the settings, the observability every transport shares and
the listeners' TLS when it is on,
listening on `settings.ports[name]`) and add one line to `TRANSPORTS` naming
that class and the transport's port setting. The class is imported only when
its transport is served.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Protocol, cast

from kv.config import PortSetting, Settings
from kv.domain import KeyValueService
from kv.observability import Observability
from kv.tls import ServerTls


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


class TransportFactory(Protocol):
    """A transport's class: built from the service, the settings and the observability."""

    def __call__(
        self,
        service: KeyValueService,
        settings: Settings,
        observability: Observability,
        *,
        tls: ServerTls | None = None,
    ) -> Transport: ...


@dataclass(frozen=True, slots=True)
class RegisteredTransport:
    """A transport known by name: where its class is (`module:Class`) and its port setting."""

    location: str
    port: PortSetting

    def load(self) -> TransportFactory:
        """Import the transport's class."""
        module, _, name = self.location.partition(":")
        return cast(TransportFactory, getattr(importlib.import_module(module), name))


TRANSPORTS: dict[str, RegisteredTransport] = {
    "http": RegisteredTransport(
        "kv.transports.http:HttpTransport", PortSetting("KV_HTTP_PORT", 8080)
    ),
    "grpc": RegisteredTransport(
        "kv.transports.grpc:GrpcTransport", PortSetting("KV_GRPC_PORT", 50051)
    ),
    "resp": RegisteredTransport(
        "kv.transports.resp:RespTransport", PortSetting("KV_RESP_PORT", 6379)
    ),
}


def port_settings() -> dict[str, PortSetting]:
    """The port setting of every known transport, by name (for `Settings.from_env`)."""
    return {name: known.port for name, known in TRANSPORTS.items()}
