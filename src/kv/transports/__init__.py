"""Transports, chosen by name (`TRANSPORT`) through `TRANSPORTS`.

Adding a transport: write a package whose class satisfies `Transport` (built
from the service, the settings, the observability every transport shares and
the listeners' TLS when it is on,
listening on `settings.ports[name]`) and whose `probe` module answers
`HealthProbe`, and add one line to `TRANSPORTS` naming the package, the class
and the transport's port setting (its variable and default port). The
settings, `kv-server`, the container's health check (`kv.healthcheck`) and
the in-process test harness then know it. The class and the probe are
imported only when used.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Protocol, cast

from kv.config import PortSetting, Settings
from kv.domain import KeyValueService
from kv.observability import Observability
from kv.probe_tls import ProbeTls
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


class HealthProbe(Protocol):
    """A transport's readiness check from outside the server (`kv.healthcheck`)."""

    def __call__(self, host: str, port: int, timeout: float, tls: ProbeTls | None) -> str | None:
        """None when the server at `host:port` is ready, else why not; within `timeout` s.

        `tls`: how to speak TLS to it (None: it serves plain text)."""
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
    """A transport known by name: its package, its class there, and its port setting.

    The package's `probe` module has the transport's `HealthProbe` as `probe`.
    """

    package: str
    transport: str
    port: PortSetting

    def load(self) -> TransportFactory:
        """Import the transport's class."""
        return cast(
            TransportFactory, getattr(importlib.import_module(self.package), self.transport)
        )

    def load_probe(self) -> HealthProbe:
        """Import the transport's health probe."""
        return cast(HealthProbe, importlib.import_module(f"{self.package}.probe").probe)


TRANSPORTS: dict[str, RegisteredTransport] = {
    "http": RegisteredTransport(
        "kv.transports.http", "HttpTransport", PortSetting("KV_HTTP_PORT", 8080)
    ),
    "grpc": RegisteredTransport(
        "kv.transports.grpc", "GrpcTransport", PortSetting("KV_GRPC_PORT", 50051)
    ),
    "resp": RegisteredTransport(
        "kv.transports.resp", "RespTransport", PortSetting("KV_RESP_PORT", 6379)
    ),
}


def port_settings() -> dict[str, PortSetting]:
    """The port setting of every known transport, by name (for `Settings.from_env`)."""
    return {name: known.port for name, known in TRANSPORTS.items()}
