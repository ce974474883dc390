"""The HTTP framework ceiling: a bare aiohttp app doing kv-server's dict work and nothing else.

Same routes, same JSON bodies, same JSON codec and event loop as `kv-server`,
but no domain, validation, conditions, request ids or logging: what aiohttp
itself can serve on this machine. `bench/run.py` starts it beside kv-server
so that the two are compared in one run.

    python bench/ceiling_http.py PORT
"""

from __future__ import annotations

import asyncio
import signal
import sys
from typing import Any

import orjson
from aiohttp import web

from kv.server import run_event_loop

PREFIX = "/v1/kv/"


def create_app() -> web.Application:
    entries: dict[str, tuple[Any, int]] = {}
    revision = 0

    async def get(request: web.Request) -> web.Response:
        key = request.match_info["key"]
        found = entries.get(key)
        if found is None:
            return web.Response(status=404, body=b'{"error":"not_found"}')
        body = orjson.dumps({"key": key, "value": found[0], "revision": found[1]})
        return web.Response(body=body, content_type="application/json")

    async def put(request: web.Request) -> web.Response:
        nonlocal revision
        key = request.match_info["key"]
        value = orjson.loads(await request.read())["value"]
        created = key not in entries
        revision += 1
        entries[key] = (value, revision)
        body = orjson.dumps({"key": key, "value": value, "revision": revision, "created": created})
        return web.Response(
            status=201 if created else 200, body=body, content_type="application/json"
        )

    app = web.Application()
    app.router.add_get(PREFIX + "{key:.*}", get)
    app.router.add_put(PREFIX + "{key:.*}", put)
    return app


async def serve(port: int) -> None:
    """Serve on 127.0.0.1:`port` until SIGTERM or SIGINT."""
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    runner = web.AppRunner(create_app(), access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await stop.wait()
    await runner.cleanup()


def main() -> None:
    run_event_loop(serve(int(sys.argv[1])))


if __name__ == "__main__":
    main()
