"""Each KVClient reads a listing page strictly: a keys-only entry that carries more than its key
and revision, or a page not shaped as the API says, is a KVClientError, not a quiet success.

Stand-in servers give the answers a correct service never gives.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import grpc
import pytest
from aiohttp import web
from google.protobuf import struct_pb2

from kv.v1 import kv_pb2, kv_pb2_grpc
from testclient.client import KVClientError
from testclient.grpc_client import GrpcKVClient
from testclient.http_client import HttpKVClient
from tests.testclient.stand_ins import serve_grpc, serve_http


@asynccontextmanager
async def http_stand_in(page: dict[str, Any]) -> AsyncIterator[str]:
    """An HTTP server that answers every listing with `page`."""

    async def listing(request: web.Request) -> web.Response:
        return web.json_response(page)

    app = web.Application()
    app.router.add_get("/v1/kv", listing)
    async with serve_http(app) as url:
        yield url


@pytest.mark.parametrize(
    "page",
    [
        {"entries": [{"key": "k", "revision": 1, "value": "leaked"}], "next_cursor": None},
        {"entries": [{"key": "k"}], "next_cursor": None, "revision": 1},
        {"entries": [], "revision": 1},
        {"entries": "k", "next_cursor": None, "revision": 1},
    ],
    ids=["keys-only-with-a-value", "no-revision", "no-next-cursor", "entries-not-a-list"],
)
async def test_http_client_refuses_a_malformed_page(page: dict[str, Any]) -> None:
    async with http_stand_in(page) as url, HttpKVClient(url, timeout=5.0) as client:
        with pytest.raises(KVClientError):
            await client.list("", keys_only=True)


async def test_http_client_reads_a_well_formed_page() -> None:
    page = {"entries": [{"key": "k", "revision": 3}], "next_cursor": "c", "revision": 4}
    async with http_stand_in(page) as url, HttpKVClient(url, timeout=5.0) as client:
        read = await client.list("", keys_only=True)
    assert (read.entries[0].key, read.entries[0].value, read.next_cursor) == ("k", None, "c")


class LeakingServicer(kv_pb2_grpc.KeyValueServicer):
    """List: a keys-only page whose entry carries a value anyway."""

    async def List(self, request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        leaked = kv_pb2.ListedEntry(key="k", value=struct_pb2.Value(string_value="v"), revision=1)
        return kv_pb2.ListResponse(entries=[leaked], revision=1)


async def test_grpc_client_refuses_a_keys_only_entry_with_a_value() -> None:
    async with (
        serve_grpc(LeakingServicer()) as address,
        GrpcKVClient(address, timeout=5.0) as client,
    ):
        with pytest.raises(KVClientError, match="keys_only"):
            await client.list("", keys_only=True)
        assert (await client.list("")).entries[0].value == "v"
