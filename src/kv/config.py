"""Settings, read once from the environment into a frozen object.

`Settings` is the one table of defaults: each field's default is the
setting's, `from_env` reads every variable with `DEFAULTS` as its fallback,
and a component that needs a default (a test building it bare) takes it
from `DEFAULTS`. The two limits the domain enforces on its own are defined
in the domain, which imports nothing of this module, and referred to here.
A bad value raises ConfigError naming the variable; the entry points print
it as one line and exit with status 2.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Final, TypeVar

from kv.domain.model import DEFAULT_MAX_VALUE_BYTES
from kv.domain.watches import DEFAULT_MAX_WATCHES

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
ACCESS_LOGS = ("all", "errors", "off")
Number = TypeVar("Number", int, float)


class ConfigError(Exception):
    """A setting has a value the program cannot run with."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable


class Env:
    """Typed reads of environment variables that fail with the variable's name."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ

    def text(self, name: str, default: str) -> str:
        return self._environ.get(name, default).strip() or default

    def integer(self, name: str, default: int, *, low: int, high: int) -> int:
        return self._in_range(name, default, int, "an integer", low, high)

    def number(self, name: str, default: float, *, low: float, high: float) -> float:
        return self._in_range(name, default, float, "a number", low, high)

    def _in_range(
        self,
        name: str,
        default: Number,
        parse: Callable[[str], Number],
        kind: str,
        low: Number,
        high: Number,
    ) -> Number:
        """`name` parsed by `parse` ("not `kind`" if it fails), within `low`..`high`."""
        raw = self.text(name, str(default))
        try:
            value = parse(raw)
        except ValueError:
            raise ConfigError(name, f"{raw!r} is not {kind}") from None
        if not low <= value <= high:
            raise ConfigError(name, f"{value} is out of range {low}..{high}")
        return value

    def flag(self, name: str, default: bool) -> bool:
        raw = self.text(name, "true" if default else "false").lower()
        if raw in ("1", "true", "yes", "on"):
            return True
        if raw in ("0", "false", "no", "off"):
            return False
        raise ConfigError(name, f"{raw!r} is not a boolean (true/false)")

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.text(name, default).lower()
        if value not in choices:
            raise ConfigError(name, f"{value!r} is not one of {', '.join(choices)}")
        return value

    def names(self, name: str, default: str, choices: tuple[str, ...]) -> tuple[str, ...]:
        """A comma list of names, each one of `choices`, without repeats."""
        raw = self.text(name, default).lower()
        picked = tuple(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))
        unknown = [part for part in picked if part not in choices]
        if unknown or not picked:
            raise ConfigError(name, f"{raw!r} is not a comma list of {', '.join(choices)}")
        return picked

    def port(self, name: str, default: int) -> int:
        return self.integer(name, default, low=1, high=65535)

    def path(self, name: str) -> Path | None:
        """A file path, or None when the variable is unset or empty."""
        raw = self.text(name, "")
        return Path(raw) if raw else None

    def endpoints(self, name: str, default: str) -> tuple[str, ...]:
        """A comma list of `host:port` (an IPv6 host in brackets), without repeats."""
        raw = self.text(name, default)
        picked = tuple(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))
        for endpoint in picked or ("",):
            host, _, port = endpoint.rpartition(":")
            if not host or not port.isdigit() or not 1 <= int(port) <= 65535 or "/" in host:
                raise ConfigError(name, f"{raw!r} is not a comma list of host:port")
        return picked


@dataclass(frozen=True, slots=True)
class PortSetting:
    """The variable a transport reads its port from, and the port it listens on without it."""

    variable: str
    default: int


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything `kv-server` reads from its environment (see README, Configuration)."""

    transports: tuple[str, ...] = ("http",)
    host: str = "0.0.0.0"
    # The port of each transport, by its name; each transport declares its own
    # variable and default (`kv.transports.TRANSPORTS`).
    ports: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    store: str = "memory"
    data_dir: Path = Path("./data")
    max_value_bytes: int = DEFAULT_MAX_VALUE_BYTES
    log_level: str = "INFO"
    idle_timeout: float = 15.0
    shutdown_timeout: float = 10.0
    sqlite_integrity_check: bool = False
    watch_history_events: int = 10_000
    watch_history_bytes: int = 64 * 1024 * 1024
    watch_heartbeat: float = 15.0
    max_watchers: int = DEFAULT_MAX_WATCHES
    etcd_endpoints: tuple[str, ...] = ("localhost:2379",)
    etcd_prefix: str = "/kv/"
    etcd_timeout: float = 1.0
    max_concurrent_requests: int = 32
    write_timeout: float = 30.0
    access_log: str = "errors"
    slow_request_seconds: float = 0.5
    # TLS of the listeners (kv.tls): None serves plain text.
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    tls_client_ca_file: Path | None = None
    # The connection to etcd (kv.adapters.etcd.security).
    etcd_tls_ca_file: Path | None = None
    etcd_tls_cert_file: Path | None = None
    etcd_tls_key_file: Path | None = None
    etcd_user: str | None = None
    etcd_password: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        # Frozen all the way down: nobody changes a port after start-up.
        object.__setattr__(self, "ports", MappingProxyType(dict(self.ports)))

    @property
    def watcher_stall_timeout(self) -> float:
        """Seconds a watch stream's client may leave one event untaken before it is ended.

        One heartbeat interval (`KV_WATCH_HEARTBEAT_SECONDS` documents both):
        a watcher that cannot take a heartbeat before the next one is due has
        fallen behind. Every transport that serves watch applies it to each
        write of the stream; `KV_WRITE_TIMEOUT` bounds whole connections.
        """
        return self.watch_heartbeat

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        transports: Mapping[str, PortSetting],
        stores: tuple[str, ...],
    ) -> Settings:
        """Read and check every setting; `transports` (with their port settings) and `stores`
        are the names known. Every known transport's port is read, served or not, so a bad
        one is reported whatever TRANSPORT says."""
        env = Env(environ)
        default = DEFAULTS
        tls_cert, tls_key = _pair(env, "KV_TLS_CERT_FILE", "KV_TLS_KEY_FILE")
        tls_client_ca = env.path("KV_TLS_CLIENT_CA_FILE")
        if tls_client_ca is not None and tls_cert is None:
            raise ConfigError(
                "KV_TLS_CLIENT_CA_FILE", "needs KV_TLS_CERT_FILE and KV_TLS_KEY_FILE set too"
            )
        etcd_cert, etcd_key = _pair(env, "KV_ETCD_TLS_CERT_FILE", "KV_ETCD_TLS_KEY_FILE")
        etcd_user = env.text("KV_ETCD_USER", "") or None
        etcd_password = env.text("KV_ETCD_PASSWORD", "") or None
        if (etcd_user is None) != (etcd_password is None):
            missing = "KV_ETCD_PASSWORD" if etcd_password is None else "KV_ETCD_USER"
            raise ConfigError(missing, "must be set with KV_ETCD_USER and KV_ETCD_PASSWORD both")
        return cls(
            transports=env.names("TRANSPORT", ",".join(default.transports), tuple(transports)),
            host=env.text("KV_HOST", default.host),
            ports={
                name: env.port(port.variable, port.default) for name, port in transports.items()
            },
            store=env.choice("KV_STORE", default.store, stores),
            data_dir=Path(env.text("KV_DATA_DIR", str(default.data_dir))),
            max_value_bytes=env.integer(
                "KV_MAX_VALUE_BYTES", default.max_value_bytes, low=1, high=64 * 1024 * 1024
            ),
            log_level=env.choice(
                "KV_LOG_LEVEL", default.log_level.lower(), tuple(x.lower() for x in LOG_LEVELS)
            ).upper(),
            idle_timeout=env.number("KV_IDLE_TIMEOUT", default.idle_timeout, low=0.1, high=3600.0),
            shutdown_timeout=env.number(
                "KV_SHUTDOWN_TIMEOUT", default.shutdown_timeout, low=0.0, high=600.0
            ),
            sqlite_integrity_check=env.flag(
                "KV_SQLITE_INTEGRITY_CHECK", default.sqlite_integrity_check
            ),
            watch_history_events=env.integer(
                "KV_WATCH_HISTORY_EVENTS", default.watch_history_events, low=2, high=10_000_000
            ),
            watch_history_bytes=env.integer(
                "KV_WATCH_HISTORY_BYTES", default.watch_history_bytes, low=64 * 1024, high=2**40
            ),
            watch_heartbeat=env.number(
                "KV_WATCH_HEARTBEAT_SECONDS", default.watch_heartbeat, low=0.1, high=3600.0
            ),
            max_watchers=env.integer(
                "KV_MAX_WATCHERS", default.max_watchers, low=1, high=1_000_000
            ),
            etcd_endpoints=env.endpoints("KV_ETCD_ENDPOINTS", ",".join(default.etcd_endpoints)),
            etcd_prefix=env.text("KV_ETCD_PREFIX", default.etcd_prefix),
            etcd_timeout=env.number("KV_ETCD_TIMEOUT", default.etcd_timeout, low=0.05, high=60.0),
            max_concurrent_requests=env.integer(
                "KV_MAX_CONCURRENT_REQUESTS", default.max_concurrent_requests, low=1, high=100_000
            ),
            write_timeout=env.number(
                "KV_WRITE_TIMEOUT", default.write_timeout, low=0.1, high=3600.0
            ),
            access_log=env.choice("KV_ACCESS_LOG", default.access_log, ACCESS_LOGS),
            slow_request_seconds=env.number(
                "KV_SLOW_REQUEST_SECONDS", default.slow_request_seconds, low=0.0, high=3600.0
            ),
            tls_cert_file=tls_cert,
            tls_key_file=tls_key,
            tls_client_ca_file=tls_client_ca,
            etcd_tls_ca_file=env.path("KV_ETCD_TLS_CA_FILE"),
            etcd_tls_cert_file=etcd_cert,
            etcd_tls_key_file=etcd_key,
            etcd_user=etcd_user,
            etcd_password=etcd_password,
        )


# Every setting's default, as one frozen value (a value, not a resource: it opens nothing).
DEFAULTS: Final = Settings()


def _pair(env: Env, cert: str, key: str) -> tuple[Path | None, Path | None]:
    """The certificate and key file variables `cert` and `key`: both set, or neither."""
    cert_file, key_file = env.path(cert), env.path(key)
    if (cert_file is None) != (key_file is None):
        missing = key if key_file is None else cert
        raise ConfigError(missing, f"must be set with {cert} and {key} both, or neither")
    return cert_file, key_file
