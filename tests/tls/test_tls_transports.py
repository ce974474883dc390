"""TLS on every transport: served to a client trusting the CA, nothing to plain text, mutual TLS.

Each test runs over HTTP, gRPC and RESP alike (`TRANSPORT_NAMES`).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import warnings
from dataclasses import replace

import pytest

from testclient.client import KVClientError
from testclient.config import connect
from testclient.tls import ClientTls
from tests.inprocess import TRANSPORT_NAMES, serve_in_process
from tests.tls.certificates import Issued, Pki
from tests.tls.conftest import tls_settings

pytestmark = pytest.mark.parametrize("transport", TRANSPORT_NAMES)

# What a plain-text client of each transport sends first.
GREETINGS = {
    "http": b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n",
    "grpc": b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    "resp": b"*1\r\n$4\r\nPING\r\n",
}
TLS_ALERT = 0x15
# Generous, and below the minute that asyncio and grpc give a handshake by default.
CLOSE_SECONDS = 30.0


async def test_a_client_trusting_the_ca_is_served(
    transport: str, pki: Pki, served_files: Issued
) -> None:
    async with serve_in_process(
        transport, client_tls=pki.trusting(), **tls_settings(served_files)
    ) as served:
        written = await served.client.put("tls/key", {"over": "tls"})
        assert (await served.client.get("tls/key")).value == {"over": "tls"}
        assert written.created


async def test_a_plaintext_client_gets_no_answer_but_a_closed_connection(
    transport: str, pki: Pki, served_files: Issued
) -> None:
    async with serve_in_process(
        transport, client_tls=pki.trusting(), **tls_settings(served_files)
    ) as served:
        port = served.settings.ports[transport]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(GREETINGS[transport])
        try:
            answer = await asyncio.wait_for(reader.read(), CLOSE_SECONDS)
        except ConnectionResetError:
            answer = b""
        writer.close()
        # Nothing, or a TLS alert record: never an answer in the plain protocol.
        assert not answer or answer[0] == TLS_ALERT, answer[:80]
        secure = served.client_settings.addresses
        plain = replace(
            served.client_settings,
            addresses={
                **secure,
                "http": secure["http"].replace("https://", "http://"),
                "resp": secure["resp"].replace("rediss://", "redis://"),
            },
            tls=ClientTls(),
            timeout=5.0,
        )
        async with connect(plain) as client:
            with pytest.raises(KVClientError):
                await client.get("tls/key")


async def test_a_client_that_does_not_trust_the_server_refuses_it(
    transport: str, pki: Pki, served_files: Issued
) -> None:
    async with serve_in_process(
        transport, client_tls=ClientTls(pki.other_ca.cert), **tls_settings(served_files)
    ) as served:
        with pytest.raises(KVClientError):
            await served.client.get("tls/key")


async def test_mutual_tls_serves_a_client_with_a_certificate_the_client_ca_signed(
    transport: str, pki: Pki, served_files: Issued
) -> None:
    async with serve_in_process(
        transport,
        client_tls=pki.trusting(pki.client),
        **tls_settings(served_files, client_ca=pki.ca.cert),
    ) as served:
        await served.client.put("mtls/key", 1)
        assert (await served.client.get("mtls/key")).value == 1


@pytest.mark.parametrize("presented", ["none", "another CA's"])
async def test_mutual_tls_refuses_a_client_without_a_certificate_the_client_ca_signed(
    transport: str, pki: Pki, served_files: Issued, presented: str
) -> None:
    client = None if presented == "none" else pki.other_client
    async with serve_in_process(
        transport,
        client_tls=pki.trusting(client),
        **tls_settings(served_files, client_ca=pki.ca.cert),
    ) as served:
        served_settings = replace(served.client_settings, timeout=5.0)
        async with connect(served_settings) as refused:
            with pytest.raises(KVClientError):
                await refused.get("mtls/key")


async def test_a_connection_that_never_finishes_its_handshake_is_closed(
    transport: str, pki: Pki, served_files: Issued
) -> None:
    async with serve_in_process(
        transport, idle_timeout=0.5, client_tls=pki.trusting(), **tls_settings(served_files)
    ) as served:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", served.settings.ports[transport]
        )
        with contextlib.suppress(ConnectionResetError):
            # A server that waits for the handshake forever fails this wait.
            assert await asyncio.wait_for(reader.read(), CLOSE_SECONDS) == b""
        writer.close()


async def test_tls_below_1_2_is_refused(transport: str, pki: Pki, served_files: Issued) -> None:
    """The outcome on every transport (gRPC's TLS is grpc's own BoringSSL, not Python's).

    A server built with OpenSSL 3's default security level refuses TLS 1.1 even
    without a minimum version; the minimum states it whatever the build.
    """
    context = ssl.create_default_context(cafile=pki.ca.cert)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.maximum_version = ssl.TLSVersion.TLSv1_1
    # Lets this client offer TLS 1.1 at all.
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    async with serve_in_process(
        transport, client_tls=pki.trusting(), **tls_settings(served_files)
    ) as served:
        with pytest.raises((ssl.SSLError, ConnectionError)):
            await asyncio.open_connection(
                "127.0.0.1", served.settings.ports[transport], ssl=context
            )
