"""The clients' TLS: which CA the server's certificate must chain to, and the client's own.

KV_TLS_CA_FILE names the CA bundle that signed the server's certificate: with
it, gRPC speaks TLS, and `https://` and `rediss://` URLs are verified against
it (without it, against the system's CAs). KV_TLS_CLIENT_CERT_FILE and
KV_TLS_CLIENT_KEY_FILE are the certificate the clients present for mutual TLS.
The test client's own code: it shares none with the server it checks.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from testclient.environment import ConfigError, Env

CA_VARIABLE = "KV_TLS_CA_FILE"
CERT_VARIABLE = "KV_TLS_CLIENT_CERT_FILE"
KEY_VARIABLE = "KV_TLS_CLIENT_KEY_FILE"


@dataclass(frozen=True, slots=True)
class ClientTls:
    """The CA bundle to verify the server with and the client certificate, each optional."""

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None

    @classmethod
    def from_env(cls, env: Env) -> ClientTls:
        """The files the environment names, checked now: ConfigError naming a bad one."""
        ca, cert, key = (env.text(name, "") for name in (CA_VARIABLE, CERT_VARIABLE, KEY_VARIABLE))
        if bool(cert) != bool(key):
            missing = KEY_VARIABLE if cert else CERT_VARIABLE
            raise ConfigError(missing, f"must be set with {CERT_VARIABLE} and {KEY_VARIABLE} both")
        tls = cls(
            Path(ca) if ca else None, Path(cert) if cert else None, Path(key) if key else None
        )
        tls.ssl_context()
        return tls

    @property
    def grpc_secure(self) -> bool:
        """Whether gRPC speaks TLS: a CA bundle or a client certificate is given."""
        return self.ca_file is not None or self.cert_file is not None

    def ssl_context(self) -> ssl.SSLContext:
        """A client context verifying the server (and its name) against the CA bundle."""
        try:
            context = ssl.create_default_context(
                cafile=None if self.ca_file is None else str(self.ca_file)
            )
        except (OSError, ValueError) as exc:
            raise ConfigError(CA_VARIABLE, f"cannot load {self.ca_file}: {exc}") from None
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if self.cert_file is not None and self.key_file is not None:
            try:
                context.load_cert_chain(self.cert_file, self.key_file)
            except OSError as exc:
                raise ConfigError(
                    CERT_VARIABLE, f"cannot load {self.cert_file} with {self.key_file}: {exc}"
                ) from None
        return context

    def grpc_credentials(self) -> grpc.ChannelCredentials:
        """Channel credentials: the CA bundle (or grpc's default roots) and the client pair."""
        return grpc.ssl_channel_credentials(
            root_certificates=_read(CA_VARIABLE, self.ca_file),
            private_key=_read(KEY_VARIABLE, self.key_file),
            certificate_chain=_read(CERT_VARIABLE, self.cert_file),
        )

    def redis_options(self) -> dict[str, Any]:
        """redis-py's keyword arguments for a `rediss://` URL."""
        return {
            "ssl_ca_certs": None if self.ca_file is None else str(self.ca_file),
            "ssl_certfile": None if self.cert_file is None else str(self.cert_file),
            "ssl_keyfile": None if self.key_file is None else str(self.key_file),
        }


def _read(variable: str, path: Path | None) -> bytes | None:
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(variable, f"cannot read {path}: {exc.strerror}") from None
