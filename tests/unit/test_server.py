"""kv-server's lifecycle: graceful shutdown through the real transports, in-process."""

from __future__ import annotations

import asyncio
import time

import aiohttp

from kv.bootstrap import bootstrap, read_settings
from kv.server import serve
from tests.fakes import FakeDurableStore
from tests.servers import free_port


async def test_shutdown_reports_not_ready_and_finishes_requests_in_flight() -> None:
    port = free_port()
    settings = read_settings({"KV_HOST": "127.0.0.1", "KV_HTTP_PORT": str(port)})
    store = FakeDurableStore()
    app = bootstrap(settings, store=store)
    stop = asyncio.Event()
    server = asyncio.create_task(serve(app, stop))
    url = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as session:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # a budget for a loaded machine, not a wait
            try:
                async with session.get(url + "/healthz") as response:
                    if response.status == 200:
                        break
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.02)
        in_flight = asyncio.create_task(session.put(url + "/v1/kv/k", json={"value": 1}))
        await asyncio.wait_for(store.has_pending.wait(), 60)
        stop.set()  # what SIGTERM does
        await asyncio.sleep(0.1)
        assert not server.done()  # waiting for the write in flight
        store.sync()
        response = await in_flight
        assert response.status == 201
        assert (await response.json())["revision"] == 1
        response.release()
    await asyncio.wait_for(server, 60)
    assert store.closed
