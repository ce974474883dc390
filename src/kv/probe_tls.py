"""How `kv.healthcheck` speaks TLS to its own server, when that server serves TLS.

The probe checks readiness, not identity, and sends nothing secret, so it verifies
the server's certificate only against KV_TLS_CA_FILE when that is set; gRPC always
verifies (grpc offers no way not to), against KV_TLS_CA_FILE or else the server's
own certificate file (a self-signed one). Under mutual TLS the probe presents
KV_TLS_CLIENT_CERT_FILE and KV_TLS_CLIENT_KEY_FILE.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import grpc

from kv.config import Env, Settings


@dataclass(frozen=True, slots=True)
class ProbeTls:
    """The CA to verify with (None: do not verify), the server's certificate, the client pair."""

    ca_file: Path | None
    server_cert_file: Path
    cert_file: Path | None = None
    key_file: Path | None = None

    @classmethod
    def from_settings(cls, settings: Settings, env: Env | None = None) -> ProbeTls | None:
        """The probe's TLS for the server `settings` describe; None when it serves plain text."""
        if settings.tls_cert_file is None:
            return None
        env = env or Env()
        return cls(
            env.path("KV_TLS_CA_FILE"),
            settings.tls_cert_file,
            env.path("KV_TLS_CLIENT_CERT_FILE"),
            env.path("KV_TLS_CLIENT_KEY_FILE"),
        )

    def ssl_context(self) -> ssl.SSLContext:
        """For HTTP and RESP: verified against the CA file if there is one."""
        context = ssl.create_default_context(cafile=self.ca_file)
        if self.ca_file is None:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if self.cert_file is not None:
            context.load_cert_chain(self.cert_file, self.key_file)
        return context

    def grpc_channel(self, target: str) -> grpc.Channel:
        """A TLS channel to `target`, verified against the CA file or the server's certificate."""
        roots = (self.ca_file or self.server_cert_file).read_bytes()
        key = None if self.key_file is None else self.key_file.read_bytes()
        chain = None if self.cert_file is None else self.cert_file.read_bytes()
        return grpc.secure_channel(target, grpc.ssl_channel_credentials(roots, key, chain))
