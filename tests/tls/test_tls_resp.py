"""RESP over TLS: a client whose handshake fails is never counted as connected."""

from __future__ import annotations

import asyncio
import contextlib

from kv.transports.resp import RespTransport
from tests.inprocess import serve_in_process
from tests.tls.certificates import Issued, Pki
from tests.tls.conftest import tls_settings

FAILED_HANDSHAKES = 20
# Generous: only a handshake that is never bounded waits this long.
CLOSE_SECONDS = 30.0


async def test_failed_handshakes_leave_no_connection_counted(
    pki: Pki, served_files: Issued
) -> None:
    async with serve_in_process(
        "resp", idle_timeout=0.5, client_tls=pki.trusting(), **tls_settings(served_files)
    ) as served:
        transport = served.app.transports[0]
        assert isinstance(transport, RespTransport)
        port = served.settings.ports["resp"]
        for attempt in range(FAILED_HANDSHAKES):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            if attempt % 2:  # plain text; the others never start a handshake at all
                writer.write(b"*1\r\n$4\r\nPING\r\n")
            with contextlib.suppress(ConnectionResetError):
                await asyncio.wait_for(reader.read(), CLOSE_SECONDS)
            writer.close()
        assert transport.connections == 0
        assert await served.client.put("after/failed-handshakes", 1)
        assert transport.connections == 1
