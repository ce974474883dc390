"""kv over an etcd that serves TLS only, demands client certificates and has users enabled.

One member started by the test (`--client-cert-auth`, `--auth-token-ttl` short), its root user
created and authentication enabled with etcdctl, as an operator would.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import grpc
import pytest

from kv.adapters.etcd import EtcdStore
from kv.adapters.etcd.client import EtcdClient
from kv.adapters.etcd.security import INVALID_TOKEN, WATCH_REFUSED, EtcdSecurity
from kv.config import ConfigError
from kv.domain import KeyValueService, StorageUnavailable
from kv.etcdpb import rpc_pb2, rpc_pb2_grpc
from tests.etcd.cluster import require_etcd
from tests.servers import Process, free_port, wait_until
from tests.tls.certificates import Pki, make_pki

pytestmark = pytest.mark.e2e

PASSWORD = "etcd-user-password"
PREFIX = "/kv-tls/"
TOKEN_TTL_SECONDS = 1
# Bounds on waits for etcd; generous, the machine is shared.
DEADLINE = 60.0
EXPIRY_ROUNDS = 20


@dataclass(frozen=True)
class SecuredEtcd:
    endpoint: str
    security: EtcdSecurity


def etcdctl(endpoint: str, pki: Pki, *args: str) -> str:
    done = subprocess.run(
        [
            shutil.which("etcdctl") or "etcdctl",
            f"--endpoints=https://{endpoint}",
            f"--cacert={pki.ca.cert}",
            f"--cert={pki.client.cert}",
            f"--key={pki.client.key}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        check=False,
        env={**os.environ, "ETCDCTL_API": "3"},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def etcd(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredEtcd]:
    root = tmp_path_factory.mktemp("etcd-tls")
    endpoint, peer = f"127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}"
    process = Process(
        [
            require_etcd(),
            *("--name", "secured", "--data-dir", str(root / "data")),
            *("--listen-client-urls", f"https://{endpoint}"),
            *("--advertise-client-urls", f"https://{endpoint}"),
            *("--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer),
            *("--initial-cluster", f"secured={peer}"),
            *("--cert-file", str(pki.server.cert), "--key-file", str(pki.server.key)),
            *("--trusted-ca-file", str(pki.ca.cert), "--client-cert-auth"),
            *("--auth-token", "simple", "--auth-token-ttl", str(TOKEN_TTL_SECONDS)),
            *("--logger", "zap", "--log-level", "warn"),
        ],
        dict(os.environ),
        root / "etcd.log",
    ).start()
    try:
        wait_until(lambda: _answers(endpoint, pki), "etcd over TLS", process, DEADLINE)
        etcdctl(endpoint, pki, "user", "add", f"root:{PASSWORD}")
        etcdctl(endpoint, pki, "role", "add", "root")
        etcdctl(endpoint, pki, "user", "grant-role", "root", "root")
        # kv's own user, allowed its prefix only (docs/security.md).
        etcdctl(endpoint, pki, "user", "add", f"kv:{PASSWORD}")
        etcdctl(endpoint, pki, "role", "add", "kv")
        etcdctl(
            endpoint, pki, "role", "grant-permission", "kv", "readwrite", "--prefix=true", PREFIX
        )
        etcdctl(endpoint, pki, "user", "grant-role", "kv", "kv")
        etcdctl(endpoint, pki, "auth", "enable")
        security = EtcdSecurity(pki.ca.cert, pki.client.cert, pki.client.key, "kv", PASSWORD)
        yield SecuredEtcd(endpoint, security)
    finally:
        process.stop()


def _answers(endpoint: str, pki: Pki) -> bool:
    credentials = grpc.ssl_channel_credentials(
        pki.ca.cert.read_bytes(), pki.client.key.read_bytes(), pki.client.cert.read_bytes()
    )
    with grpc.secure_channel(endpoint, credentials) as channel:
        stub = rpc_pb2_grpc.MaintenanceStub(channel)  # type: ignore[no-untyped-call]
        try:
            stub.Status(rpc_pb2.StatusRequest(), timeout=2)
        except grpc.RpcError:
            return False
        return True


@pytest.fixture
async def service(etcd: SecuredEtcd, tmp_path: Path) -> AsyncIterator[KeyValueService]:
    store = EtcdStore(
        [etcd.endpoint], prefix=f"{PREFIX}{tmp_path.name}/", timeout=10.0, security=etcd.security
    )
    opened = KeyValueService(store)
    await opened.start()
    yield opened
    await opened.stop()


async def test_reads_writes_leases_and_watches_over_tls_as_an_etcd_user(
    service: KeyValueService,
) -> None:
    watch = await service.watch("w/")
    written = await service.put("w/a", {"over": "tls"})
    assert (await service.get("w/a")).value == {"over": "tls"}
    change = await asyncio.wait_for(anext(watch), DEADLINE)
    assert change.entry is not None
    assert change.entry.key == "w/a"
    assert change.revision == written.entry.revision
    watch.close()
    await service.put("w/ttl", 1, ttl=60)  # a lease, granted as the user
    await service.put("w/ttl", 2)  # its lease revoked as the user
    listing = await service.list("w/")
    assert [entry.key for entry in listing.entries] == ["w/a", "w/ttl"]


async def test_a_token_etcd_no_longer_accepts_is_renewed(
    service: KeyValueService, etcd: SecuredEtcd, pki: Pki
) -> None:
    await service.put("renew/a", 1)
    # A token of the test's own, signed in after the store's and idle as long: once etcd
    # refuses it, it refuses the store's too.
    credentials = grpc.ssl_channel_credentials(
        pki.ca.cert.read_bytes(), pki.client.key.read_bytes(), pki.client.cert.read_bytes()
    )
    async with grpc.aio.secure_channel(etcd.endpoint, credentials) as channel:
        signed_in = await rpc_pb2_grpc.AuthStub(channel).Authenticate(  # type: ignore[no-untyped-call]
            rpc_pb2.AuthenticateRequest(name="kv", password=PASSWORD), timeout=DEADLINE
        )
        stub = rpc_pb2_grpc.KVStub(channel)  # type: ignore[no-untyped-call]
        refused = None
        for _ in range(EXPIRY_ROUNDS):
            await asyncio.sleep(TOKEN_TTL_SECONDS * 3)
            try:
                await stub.Range(
                    rpc_pb2.RangeRequest(key=b"x"),
                    metadata=(("token", signed_in.token),),
                    timeout=DEADLINE,
                )
            except grpc.aio.AioRpcError as exc:
                refused = exc.details()
                break
        assert refused == INVALID_TOKEN, "etcd never expired a token"
    assert (await service.get("renew/a")).value == 1
    await service.put("renew/a", 2)
    assert (await service.get("renew/a")).value == 2


@pytest.mark.parametrize("missing", ["client certificate", "password"])
async def test_without_the_client_certificate_or_the_right_password_etcd_is_unavailable(
    etcd: SecuredEtcd, pki: Pki, missing: str, tmp_path: Path
) -> None:
    security = (
        replace(etcd.security, cert_file=None, key_file=None)
        if missing == "client certificate"
        else replace(etcd.security, password="wrong")
    )
    store = EtcdStore(
        [etcd.endpoint], prefix=f"{PREFIX}{tmp_path.name}/", timeout=1.0, security=security
    )
    await store.open()
    try:
        with pytest.raises(StorageUnavailable) as caught:
            await store.get("k")
    finally:
        await store.close()
    assert "wrong" not in str(caught.value)
    assert PASSWORD not in str(caught.value)


def test_an_unreadable_tls_file_names_its_variable(tmp_path: Path) -> None:
    security = EtcdSecurity(ca_file=tmp_path / "missing.crt")
    with pytest.raises(ConfigError) as caught:
        security.credentials()
    assert caught.value.variable == "KV_ETCD_TLS_CA_FILE"


async def test_a_watch_etcd_cancels_as_not_permitted_is_created_again_with_a_new_token(
    etcd: SecuredEtcd, pki: Pki
) -> None:
    client = EtcdClient([etcd.endpoint], timeout=10.0, security=etcd.security)
    await client.open()
    try:
        first, _ = await client.watch_stream()
        first.cancel()
        assert client.token
        before = client.token
        client.watch_cancelled(WATCH_REFUSED)
        second, _ = await client.watch_stream()
        create = rpc_pb2.WatchCreateRequest(key=f"{PREFIX}watch".encode())
        await second.write(rpc_pb2.WatchRequest(create_request=create))
        created = await asyncio.wait_for(second.read(), DEADLINE)
        second.cancel()
    finally:
        await client.close()
    assert client.token != before
    assert isinstance(created, rpc_pb2.WatchResponse)
    assert created.created
    assert not created.canceled
