"""How kv proves itself to etcd, and etcd to kv: TLS, a client certificate, etcd's own users.

With KV_ETCD_TLS_CA_FILE (or a client certificate) the channel speaks TLS and
verifies each member against that CA, by the address it connects to (names in
KV_ETCD_ENDPOINTS are resolved first), so member certificates name their IP
addresses, as etcd's own guides make them. KV_ETCD_TLS_CERT_FILE and
KV_ETCD_TLS_KEY_FILE are kv's certificate for members started with
`--client-cert-auth`.

With KV_ETCD_USER and KV_ETCD_PASSWORD, kv signs in (`Auth.Authenticate`) and
sends the token etcd gives as the metadata `token` with every call. etcd
refuses a token it no longer accepts (it expired, or the member restarted)
with "invalid auth token" before doing anything, so the caller signs in again
and sends the call once more (`EtcdAuth.signed_in`). The password is never
logged nor put in an error.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from kv.config import ConfigError, Settings
from kv.domain import StorageUnavailable
from kv.etcdpb import rpc_pb2, rpc_pb2_grpc

# etcd's answer to a call whose token it does not accept (rpctypes ErrGRPCInvalidAuthToken).
INVALID_TOKEN = "etcdserver: invalid auth token"
# How etcd cancels a watch whose token it does not accept (or whose user may not read).
WATCH_REFUSED = "etcdserver: permission denied"


@dataclass(frozen=True, slots=True)
class EtcdSecurity:
    """The connection's TLS files and etcd user; all None: plain text, no user."""

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> EtcdSecurity:
        return cls(
            settings.etcd_tls_ca_file,
            settings.etcd_tls_cert_file,
            settings.etcd_tls_key_file,
            settings.etcd_user,
            settings.etcd_password,
        )

    def credentials(self) -> grpc.ChannelCredentials | None:
        """TLS credentials for the channel, or None for plain text; ConfigError for a bad file."""
        if self.ca_file is None and self.cert_file is None:
            return None
        return grpc.ssl_channel_credentials(
            root_certificates=_read("KV_ETCD_TLS_CA_FILE", self.ca_file),
            private_key=_read("KV_ETCD_TLS_KEY_FILE", self.key_file),
            certificate_chain=_read("KV_ETCD_TLS_CERT_FILE", self.cert_file),
        )

    def auth(self) -> EtcdAuth | None:
        """etcd's user authentication, or None when no user is set."""
        if self.user is None or self.password is None:
            return None
        return EtcdAuth(self.user, self.password)


class EtcdAuth:
    """The token of one etcd user: got by signing in, sent with every call, renewed when stale."""

    def __init__(self, user: str, password: str) -> None:
        self._request = rpc_pb2.AuthenticateRequest(name=user, password=password)
        self._user = user
        self._token = ""
        # A token etcd refused: signed in again before the next call.
        self._refused: str | None = None
        self._lock = asyncio.Lock()

    def metadata(self) -> tuple[tuple[str, str], ...]:
        """What a call carries to prove the user: `token` once signed in."""
        return (("token", self._token),) if self._token else ()

    def refused(self, token: str) -> None:
        """etcd refused `token`: the next call signs in again first."""
        self._refused = token

    async def signed_in(self, channel: grpc.aio.Channel, deadline: float) -> str:
        """The token to send, signing in first if there is none yet or etcd refused it.

        Concurrent callers sign in once. StorageUnavailable when etcd refuses: a
        wrong user or password, or a user set for an etcd without authentication.
        """
        if self._token and self._token != self._refused:
            return self._token
        async with self._lock:
            if self._token and self._token != self._refused:
                return self._token  # another call signed in meanwhile
            stub = rpc_pb2_grpc.AuthStub(channel)  # type: ignore[no-untyped-call]
            try:
                response = await stub.Authenticate(self._request, timeout=deadline)
            except grpc.aio.AioRpcError as exc:
                raise StorageUnavailable(
                    f"etcd refused to sign in user {self._user!r}: {exc.details()}"
                ) from None
            self._token, self._refused = response.token, None
            return self._token

    @property
    def token(self) -> str:
        """The token sent now ("" before signing in)."""
        return self._token


def _read(variable: str, path: Path | None) -> bytes | None:
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(variable, f"cannot read {path}: {exc.strerror}") from None
