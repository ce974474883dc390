"""Where the clients find the KV service (one replica or several); where the test client listens."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from testclient.client import KVClient
from testclient.environment import ConfigError, Env, split_list
from testclient.tls import ClientTls
from testclient.transports import CLIENTS, ClientTransport

__all__ = [
    "CLIENTS",
    "ClientSettings",
    "ClientTransport",
    "ConfigError",
    "add_transport_options",
    "connect",
    "replicas",
    "with_options",
]


def _default_addresses() -> Mapping[str, str]:
    return MappingProxyType({name: known.default for name, known in CLIENTS.items()})


@dataclass(frozen=True, slots=True)
class ClientSettings:
    """The client side's settings (see docs/configuration.md).

    `addresses` has, for each transport in `CLIENTS`, one address or a comma
    list of the addresses of replicas of one service: `replicas()` splits it.
    """

    transport: str = "http"
    addresses: Mapping[str, str] = field(default_factory=_default_addresses)
    host: str = "0.0.0.0"
    port: int = 8081
    timeout: float = 10.0
    tls: ClientTls = field(default_factory=ClientTls)
    request_id: str | None = None
    """Sent with every call so the KV service's log lines carry the caller's request id;
    None: each call gets a new one. The test-client service sets it per request."""

    def __post_init__(self) -> None:
        # Every transport has an address (its default unless given), and nobody changes one.
        object.__setattr__(
            self, "addresses", MappingProxyType({**_default_addresses(), **self.addresses})
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ClientSettings:
        env = Env(environ)
        default = cls()  # the fields' defaults are the one table of them
        return cls(
            transport=env.choice("TRANSPORT", default.transport, tuple(CLIENTS)),
            addresses={
                name: env.addresses(known.variable, known.default, known.schemes)
                for name, known in CLIENTS.items()
            },
            host=env.text("KV_HOST", default.host),
            port=env.port("TESTCLIENT_PORT", default.port),
            timeout=env.number("KV_CLIENT_TIMEOUT", default.timeout, low=0.1, high=600.0),
            tls=ClientTls.from_env(env),
        )

    def with_address(self, transport: str, address: str) -> ClientSettings:
        """These settings with `transport`'s address (or comma list of replicas) replaced."""
        return replace(self, addresses={**self.addresses, transport: address})


def connect(settings: ClientSettings, transport: str | None = None) -> KVClient:
    """A new KVClient for `transport` (default: the configured one), on its first replica.

    Call it inside a running event loop.
    """
    name = transport or settings.transport
    return CLIENTS[name].client(
        split_list(settings.addresses[name])[0],
        timeout=settings.timeout,
        request_id=settings.request_id,
        tls=settings.tls,
    )


def replicas(settings: ClientSettings, transport: str | None = None) -> tuple[ClientSettings, ...]:
    """One settings object per replica that `transport`'s address names, each naming only it."""
    name = transport or settings.transport
    return tuple(
        settings.with_address(name, address) for address in split_list(settings.addresses[name])
    )


def add_transport_options(parser: argparse.ArgumentParser, *, replicas_help: str) -> None:
    """`--transport` and each transport's address option (`ClientTransport.option`); left
    out, each is the environment's (`with_options` reads them back over the settings)."""
    parser.add_argument(
        "--transport", choices=tuple(CLIENTS), help="the protocol to speak (TRANSPORT)"
    )
    for name, known in CLIENTS.items():
        parser.add_argument(
            known.option,
            dest=f"address_{name}",
            metavar="ADDRESS",
            help=f"where the {name} transport is, {replicas_help} ({known.variable}; "
            f"default {known.default})",
        )


def with_options(settings: ClientSettings, args: argparse.Namespace) -> ClientSettings:
    """`settings` with the transport and addresses `add_transport_options` parsed into `args`."""
    given = {
        name: address
        for name in CLIENTS
        if (address := getattr(args, f"address_{name}")) is not None
    }
    return replace(
        settings,
        transport=args.transport or settings.transport,
        addresses={**settings.addresses, **given},
    )
