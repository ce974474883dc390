"""TLS of kv-server's listeners: one certificate chain and key for every transport.

`ServerTls` reads KV_TLS_CERT_FILE and KV_TLS_KEY_FILE (and KV_TLS_CLIENT_CA_FILE:
then every client must present a certificate that CA signed) and gives each
transport what its framework takes: an `ssl.SSLContext` for the asyncio
listeners (HTTP, RESP) and server credentials for gRPC. Both speak TLS 1.2 or
later only (grpc's core refuses older versions by default).

`reload()` (SIGHUP) reads the files again; connections already open keep the
certificate they were served, new ones get the new one. The listeners keep the
first context for their whole life: its `sni_callback`, which OpenSSL calls at
every handshake (with or without a server name), hands the connection to the
context of the latest files. gRPC asks its certificate fetcher before every
handshake. Files that cannot be read, parsed or matched raise ConfigError
naming their variable, and the certificate served stays what it was.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import grpc

from kv.config import ConfigError, Settings
from kv.observability import get_logger

log = get_logger("kv.tls")

CERT_VARIABLE = "KV_TLS_CERT_FILE"
KEY_VARIABLE = "KV_TLS_KEY_FILE"
CLIENT_CA_VARIABLE = "KV_TLS_CLIENT_CA_FILE"


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """Where the certificate chain, its key and (for mutual TLS) the client CA bundle are."""

    cert: Path
    key: Path
    client_ca: Path | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> TlsFiles | None:
        """The files `settings` name, or None when the listeners serve plain text."""
        if settings.tls_cert_file is None or settings.tls_key_file is None:
            return None
        return cls(settings.tls_cert_file, settings.tls_key_file, settings.tls_client_ca_file)


@dataclass(frozen=True, slots=True)
class _Material:
    """One reading of the files: their bytes (for gRPC) and the context built from them."""

    chain: bytes
    key: bytes
    client_ca: bytes | None
    context: ssl.SSLContext


class ServerTls:
    """The listeners' TLS, read from `files`; ConfigError naming the variable of a bad file.

    A reloadable of `kv.lifecycle` (SIGHUP).
    """

    name = CERT_VARIABLE

    def __init__(self, files: TlsFiles) -> None:
        self._files = files
        self._material = _read(files)
        self._generation = 0
        # Every asyncio listener is given this one context (see the module docstring).
        self._listening = self._material.context
        self._listening.sni_callback = self._pick_context

    @property
    def client_auth(self) -> bool:
        """Whether clients must present a certificate the client CA signed."""
        return self._files.client_ca is not None

    @property
    def ssl_context(self) -> ssl.SSLContext:
        """The context for an asyncio listener (`loop.create_server(ssl=...)`)."""
        return self._listening

    def grpc_credentials(self) -> grpc.ServerCredentials:
        """Credentials for one grpc server, following `reload()` from its next handshake on."""
        served = self._generation

        def fetch() -> grpc.ServerCertificateConfiguration | None:
            # Called by grpc's core (in its own thread) before each handshake;
            # None keeps the configuration it has.
            nonlocal served
            generation, material = self._generation, self._material
            if generation == served:
                return None
            served = generation
            return _grpc_configuration(material)

        return grpc.dynamic_ssl_server_credentials(
            _grpc_configuration(self._material),
            # grpc-stubs types the fetcher without the None that grpc's docs allow.
            fetch,  # type: ignore[arg-type]
            require_client_authentication=self.client_auth,
        )

    def reload(self) -> None:
        """Serve the files as they are now; a file that cannot be used is logged, and the
        certificate served stays what it was."""
        try:
            material = _read(self._files)
        except ConfigError as exc:
            log.error("TLS files not reloaded; the previous certificate stays", problem=str(exc))
            return
        self._material = material
        self._generation += 1
        log.info("TLS files reloaded")

    def _pick_context(
        self, connection: ssl.SSLObject | ssl.SSLSocket, server_name: str | None, _: ssl.SSLContext
    ) -> None:
        context = self._material.context
        if context is not self._listening:
            connection.context = context


def _grpc_configuration(material: _Material) -> grpc.ServerCertificateConfiguration:
    return grpc.ssl_server_certificate_configuration(
        [(material.key, material.chain)], root_certificates=material.client_ca
    )


def _read(files: TlsFiles) -> _Material:
    """The files' bytes and a context built from them, the same bytes both.

    OpenSSL loads a chain and key only from paths, so the files are read before
    and after loading them, and a file that changed in between (written while
    this reads it) is reported rather than served half old, half new.
    """
    before = _contents(files)
    context = _context(files)
    if _contents(files) != before:
        raise ConfigError(CERT_VARIABLE, "the files changed while being read; try again")
    chain, key, client_ca = before
    return _Material(chain, key, client_ca, context)


def _contents(files: TlsFiles) -> tuple[bytes, bytes, bytes | None]:
    client_ca = None if files.client_ca is None else _bytes(CLIENT_CA_VARIABLE, files.client_ca)
    return _bytes(CERT_VARIABLE, files.cert), _bytes(KEY_VARIABLE, files.key), client_ca


def _bytes(variable: str, path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(variable, f"cannot read {path}: {exc.strerror}") from None


def _context(files: TlsFiles) -> ssl.SSLContext:
    try:
        # Parsed alone first, so that a bad certificate and a bad key are told apart.
        _new_context().load_verify_locations(cafile=files.cert)
    except (OSError, ValueError):
        raise ConfigError(CERT_VARIABLE, f"{files.cert} holds no PEM certificate") from None
    context = _new_context()
    try:
        context.load_cert_chain(files.cert, files.key)
    except OSError as exc:
        problem = (
            f"{files.key} is not the key of the certificate in {CERT_VARIABLE}"
            if "KEY_VALUES_MISMATCH" in str(exc)
            else f"{files.key} holds no usable PEM private key"
        )
        raise ConfigError(KEY_VARIABLE, problem) from None
    if files.client_ca is not None:
        try:
            context.load_verify_locations(cafile=files.client_ca)
        except (OSError, ValueError):
            raise ConfigError(
                CLIENT_CA_VARIABLE, f"{files.client_ca} holds no PEM certificate"
            ) from None
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def _new_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    # A TLS 1.2 client may not make the server redo handshakes on one connection.
    context.options |= ssl.OP_NO_RENEGOTIATION
    return context
