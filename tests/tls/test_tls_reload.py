"""A reload (SIGHUP) serves the new certificate to new connections and keeps the open ones.

Over HTTP, gRPC and RESP alike; a file broken at reload leaves the old certificate served.
"""

from __future__ import annotations

import asyncio
import shutil
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
from structlog.testing import capture_logs

from kv.lifecycle import reload
from tests.inprocess import TRANSPORT_NAMES, Served, serve_in_process
from tests.tls.certificates import Issued, Pki
from tests.tls.conftest import tls_settings

pytestmark = pytest.mark.parametrize("transport", TRANSPORT_NAMES)

Again = Callable[[], Awaitable[None]]


async def served_certificate(served: Served, pki: Pki) -> str:
    """The common name of the certificate a new connection is served."""
    context = ssl.create_default_context(cafile=pki.ca.cert)
    context.set_alpn_protocols(["h2", "http/1.1"])
    port = served.settings.ports[served.client.transport]
    _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
    certificate = writer.get_extra_info("peercert")
    writer.close()
    return dict(name for part in certificate["subject"] for name in part)["commonName"]


@asynccontextmanager
async def conversation(served: Served, pki: Pki) -> AsyncIterator[Again]:
    """One connection, used once now; the `again()` it yields uses it once more.

    A watch where the transport has one (its stream ends with its connection),
    else PINGs on one TLS connection.
    """
    client = served.client
    if client.transport == "resp":
        context = ssl.create_default_context(cafile=pki.ca.cert)
        port = served.settings.ports["resp"]
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)

        async def ping() -> None:
            writer.write(b"*1\r\n$4\r\nPING\r\n")
            assert await reader.readline() == b"+PONG\r\n"

        await ping()
        yield ping
        writer.close()
        return
    first = await client.put("reload/0", 0)
    events = client.watch("reload/", from_revision=first.entry.revision)
    assert (await anext(events)).key == "reload/0"
    count = 0

    async def put_and_see() -> None:
        nonlocal count
        count += 1
        await client.put(f"reload/{count}", count)
        assert (await anext(events)).key == f"reload/{count}"

    yield put_and_see
    await events.aclose()


async def test_reload_serves_the_new_certificate_and_keeps_open_connections(
    transport: str, pki: Pki, served_files: Issued
) -> None:
    async with serve_in_process(
        transport, client_tls=pki.trusting(), **tls_settings(served_files)
    ) as served:
        assert await served_certificate(served, pki) == "server"
        async with conversation(served, pki) as again:
            shutil.copyfile(pki.rotated.cert, served_files.cert)
            shutil.copyfile(pki.rotated.key, served_files.key)
            reload(served.app)
            assert await served_certificate(served, pki) == "rotated"
            await again()
        await served.client.put("after/reload", 1)


@pytest.mark.parametrize(
    ("broken", "variable"),
    [
        ("a key that is no key", "KV_TLS_KEY_FILE"),
        ("the key of another certificate", "KV_TLS_KEY_FILE"),
        ("a certificate that is no certificate", "KV_TLS_CERT_FILE"),
    ],
)
async def test_a_file_broken_at_reload_is_logged_and_the_old_certificate_kept(
    transport: str, pki: Pki, served_files: Issued, broken: str, variable: str
) -> None:
    async with serve_in_process(
        transport, client_tls=pki.trusting(), **tls_settings(served_files)
    ) as served:
        async with conversation(served, pki) as again:
            shutil.copyfile(pki.rotated.cert, served_files.cert)
            if broken == "a key that is no key":
                served_files.key.write_text("not a key\n")
            elif broken == "a certificate that is no certificate":
                served_files.cert.write_text("not a certificate\n")
            with capture_logs() as logs:
                reload(served.app)
            refusals = [line for line in logs if line["log_level"] == "error"]
            assert [line["event"] for line in refusals] == [
                "TLS files not reloaded; the previous certificate stays"
            ]
            assert refusals[0]["problem"].startswith(variable)
            assert await served_certificate(served, pki) == "server"
            await again()
        await served.client.put("after/reload", 1)
