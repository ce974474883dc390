"""Each protocol's own answers to access control, on the wire: HTTP statuses, codes and the
`WWW-Authenticate` challenge; gRPC status codes (health and reflection open); RESP's
`-NOAUTH`, `-WRONGPASS`, `-NOPERM`, AUTH and HELLO AUTH, and redis-py as users run it.
Also tokens in odd places (query string, cookie, two headers, a huge header): never a token.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import grpc
import pytest
import redis.asyncio as aioredis
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from redis.exceptions import AuthenticationError

from kv.v1 import kv_pb2, kv_pb2_grpc
from tests.access.secured import ADMIN_TOKEN, APP_TOKEN, WRONG_TOKEN, serve_secured
from tests.inprocess import Served, serve_in_process

CHALLENGE = 'Bearer realm="kv"'
NOAUTH = b"-NOAUTH Authentication required.\r\n"
WRONGPASS = b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"

# HTTP


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[tuple[Served, aiohttp.ClientSession]]:
    async with serve_secured("http", tmp_path) as served, aiohttp.ClientSession() as session:
        yield served, session


def url(served: Served, path: str) -> str:
    return f"http://127.0.0.1:{served.settings.ports['http']}{path}"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def call(
    http: tuple[Served, aiohttp.ClientSession],
    method: str,
    path: str,
    headers: object = None,
    **options: object,
) -> tuple[int, dict[str, str], str]:
    served, session = http
    async with session.request(method, url(served, path), headers=headers, **options) as answer:  # type: ignore[arg-type]
        return answer.status, dict(answer.headers), await answer.text()


@pytest.mark.parametrize(
    "headers",
    [
        {},
        bearer(WRONG_TOKEN),
        {"Authorization": f"Basic {APP_TOKEN}"},
        {"Authorization": "Bearer "},
        {"Authorization": APP_TOKEN},
    ],
)
async def test_http_no_or_unknown_token_is_401_with_the_challenge(
    http: tuple[Served, aiohttp.ClientSession], headers: dict[str, str]
) -> None:
    status, answer_headers, body = await call(http, "GET", "/v1/kv/app/x", headers)
    assert status == 401
    assert answer_headers["WWW-Authenticate"] == CHALLENGE
    assert '"code":"unauthenticated"' in body
    assert APP_TOKEN not in body


async def test_http_a_token_without_the_right_is_403(
    http: tuple[Served, aiohttp.ClientSession],
) -> None:
    status, _, body = await call(
        http, "PUT", "/v1/kv/shared/x", bearer(APP_TOKEN), json={"value": 1}
    )
    assert (status, '"code":"permission_denied"' in body) == (403, True)
    status, _, body = await call(http, "GET", "/v1/kv?prefix=", bearer(APP_TOKEN))
    assert status == 403
    status, _, _ = await call(http, "GET", "/v1/watch?prefix=shared", bearer(APP_TOKEN))
    assert status == 403
    status, _, _ = await call(http, "PUT", "/v1/kv/app/x", bearer(APP_TOKEN), json={"value": 1})
    assert status == 201


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/ui/", "/ui/app.js", "/ui/api.js"])
async def test_http_health_readiness_and_the_console_files_need_no_token(
    http: tuple[Served, aiohttp.ClientSession], path: str
) -> None:
    status, _, _ = await call(http, "GET", path)
    assert status == 200


@pytest.mark.parametrize("path", ["/metrics", "/openapi.json", "/v1/nowhere", "/v1/kv"])
async def test_http_metrics_and_everything_else_need_a_valid_token(
    http: tuple[Served, aiohttp.ClientSession], path: str
) -> None:
    assert (await call(http, "GET", path))[0] == 401
    status, _, _ = await call(http, "GET", path, bearer(ADMIN_TOKEN))
    assert status != 401


async def test_http_metrics_takes_any_valid_token(
    http: tuple[Served, aiohttp.ClientSession],
) -> None:
    status, _, body = await call(http, "GET", "/metrics", bearer(APP_TOKEN))
    assert status == 200
    assert "kv_auth_refusals" in body


@pytest.mark.parametrize(
    ("path", "options"),
    [
        (f"/v1/kv/app/x?token={APP_TOKEN}", {}),
        (f"/v1/kv/app/x?access_token={APP_TOKEN}", {}),
        ("/v1/kv/app/x", {"cookies": {"token": APP_TOKEN, "Authorization": APP_TOKEN}}),
        ("/v1/kv/app/x", {"headers": {"X-Token": APP_TOKEN, "Proxy-Authorization": APP_TOKEN}}),
    ],
)
async def test_http_a_token_anywhere_but_the_authorization_header_is_no_token(
    http: tuple[Served, aiohttp.ClientSession], path: str, options: dict[str, object]
) -> None:
    status, _, body = await call(http, "GET", path, **options)
    assert status == 401
    assert APP_TOKEN not in body


@pytest.mark.parametrize(
    "second", [APP_TOKEN, WRONG_TOKEN], ids=["the-same-token-twice", "a-wrong-one-too"]
)
async def test_http_two_authorization_headers_are_refused(
    http: tuple[Served, aiohttp.ClientSession], second: str
) -> None:
    headers = [("Authorization", f"Bearer {APP_TOKEN}"), ("Authorization", f"Bearer {second}")]
    status, _, body = await call(http, "GET", "/v1/kv/app/x", headers)
    assert status == 401
    assert APP_TOKEN not in body


@pytest.mark.parametrize("size", [8 * 1024, 64 * 1024])
async def test_http_a_huge_authorization_header_is_refused_without_echo(
    http: tuple[Served, aiohttp.ClientSession], size: int
) -> None:
    token = APP_TOKEN + "A" * size
    status, _, body = await call(http, "GET", "/v1/kv/app/x", bearer(token))
    assert status in (400, 401, 431)
    assert "AAAAAAAA" not in body


# gRPC


@pytest.fixture
async def channel(tmp_path: Path) -> AsyncIterator[grpc.aio.Channel]:
    async with serve_secured("grpc", tmp_path) as served:
        port = served.settings.ports["grpc"]
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as opened:
            yield opened


async def grpc_code(
    channel: grpc.aio.Channel, request: object, metadata: tuple[tuple[str, str], ...]
) -> tuple[grpc.StatusCode, str]:
    stub = kv_pb2_grpc.KeyValueStub(channel)  # type: ignore[no-untyped-call]
    method = stub.Put if isinstance(request, kv_pb2.PutRequest) else stub.Get
    try:
        await method(request, metadata=metadata, timeout=30)
    except grpc.aio.AioRpcError as exc:
        return exc.code(), exc.details() or ""
    return grpc.StatusCode.OK, ""


@pytest.mark.parametrize(
    ("metadata", "code"),
    [
        ((), grpc.StatusCode.UNAUTHENTICATED),
        ((("authorization", f"Bearer {WRONG_TOKEN}"),), grpc.StatusCode.UNAUTHENTICATED),
        ((("authorization", APP_TOKEN),), grpc.StatusCode.UNAUTHENTICATED),
        (
            (("authorization", f"Bearer {APP_TOKEN}"), ("authorization", f"Bearer {APP_TOKEN}")),
            grpc.StatusCode.UNAUTHENTICATED,
        ),
        ((("authorization", f"Bearer {APP_TOKEN}"),), grpc.StatusCode.NOT_FOUND),
        ((("authorization", f"Bearer {ADMIN_TOKEN}"),), grpc.StatusCode.NOT_FOUND),
    ],
)
async def test_grpc_get_answers_by_its_credentials(
    channel: grpc.aio.Channel, metadata: tuple[tuple[str, str], ...], code: grpc.StatusCode
) -> None:
    answer, details = await grpc_code(channel, kv_pb2.GetRequest(key="app/missing"), metadata)
    assert answer == code
    assert APP_TOKEN not in details


async def test_grpc_a_token_without_the_right_is_permission_denied(
    channel: grpc.aio.Channel,
) -> None:
    put = kv_pb2.PutRequest(key="shared/x")
    put.value.string_value = "v"
    answer, _ = await grpc_code(channel, put, (("authorization", f"Bearer {APP_TOKEN}"),))
    assert answer == grpc.StatusCode.PERMISSION_DENIED


async def test_grpc_health_and_reflection_need_no_token(channel: grpc.aio.Channel) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    reply = await health.Check(health_pb2.HealthCheckRequest(service=""), timeout=30)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING
    reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
    answers = reflection.ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=30
    )
    names = [
        service.name
        async for answer in answers
        for service in answer.list_services_response.service
    ]
    assert "kv.v1.KeyValue" in names


# RESP


@pytest.fixture
async def resp(tmp_path: Path) -> AsyncIterator[int]:
    async with serve_secured("resp", tmp_path) as served:
        yield served.settings.ports["resp"]


async def exchange(port: int, *commands: tuple[str, ...]) -> list[bytes]:
    """Send each command on one connection and read its (one-line) reply."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    replies = []
    try:
        for words in commands:
            frame = f"*{len(words)}\r\n" + "".join(f"${len(w.encode())}\r\n{w}\r\n" for w in words)
            writer.write(frame.encode())
            replies.append(await asyncio.wait_for(reader.readline(), 30))
    finally:
        writer.close()
    return replies


async def test_resp_every_command_but_auth_hello_quit_needs_auth_first(resp: int) -> None:
    assert await exchange(resp, ("GET", "app/x"), ("PING",), ("HELLO", "3"), ("QUIT",)) == [
        NOAUTH,
        NOAUTH,
        NOAUTH,
        b"+OK\r\n",
    ]


async def test_resp_auth_with_a_wrong_token_or_name_is_wrongpass(resp: int) -> None:
    replies = await exchange(
        resp,
        ("AUTH", WRONG_TOKEN),
        ("AUTH", "admin", APP_TOKEN),
        ("GET", "app/x"),
        ("AUTH", "app", APP_TOKEN),
        ("AUTH", WRONG_TOKEN),  # a failed AUTH keeps the connection's principal
        ("GET", "app/x"),
    )
    assert replies == [WRONGPASS, WRONGPASS, NOAUTH, b"+OK\r\n", WRONGPASS, b"$-1\r\n"]


async def test_resp_a_command_on_a_key_without_the_right_is_noperm_whole(resp: int) -> None:
    replies = await exchange(
        resp,
        ("AUTH", "default", APP_TOKEN),
        ("SET", "app/a", "1"),
        ("SET", "shared/a", "1"),
        ("DEL", "app/a", "shared/a"),
        ("EXISTS", "app/a"),
        ("SCAN", "0", "MATCH", "*"),
        ("SCAN", "0", "MATCH", "shared/*"),
    )
    assert replies[:2] == [b"+OK\r\n", b"+OK\r\n"]
    assert replies[2].startswith(b"-NOPERM ")
    assert replies[3].startswith(b"-NOPERM ")  # refused before anything is deleted
    assert replies[4] == b":1\r\n"
    assert replies[5].startswith(b"-NOPERM ")
    assert replies[6] == b"*2\r\n"


async def test_resp_hello_3_auth_authenticates_and_switches(resp: int) -> None:
    replies = await exchange(
        resp, ("HELLO", "3", "AUTH", "app", WRONG_TOKEN), ("HELLO", "3", "AUTH", "app", APP_TOKEN)
    )
    assert replies[0] == WRONGPASS
    assert replies[1].startswith(b"%")


@pytest.mark.parametrize("protocol", [2, 3])
@pytest.mark.parametrize("username", [None, "app", "default"])
async def test_resp_redis_py_password_and_username_work_unchanged(
    resp: int, protocol: int, username: str | None
) -> None:
    client = aioredis.Redis(
        port=resp, protocol=protocol, username=username, password=APP_TOKEN, socket_timeout=30
    )
    try:
        assert await client.set("app/py", "v")
        assert await client.get("app/py") == b"v"
    finally:
        await client.aclose()
    wrong = aioredis.Redis(port=resp, protocol=protocol, password=WRONG_TOKEN, socket_timeout=30)
    try:
        with pytest.raises(AuthenticationError):
            await wrong.get("app/py")
    finally:
        await wrong.aclose()


async def test_resp_auth_without_an_auth_file_answers_as_redis_without_a_password() -> None:
    async with serve_in_process("resp") as served:
        port = served.settings.ports["resp"]
        replies = await exchange(
            port,
            ("AUTH", "anything"),
            ("AUTH", "default", "anything"),
            ("AUTH", "someone", "anything"),
            ("GET", "x"),
            ("HELLO", "3", "AUTH", "default", "anything"),  # last: its reply is several lines
        )
        # redis-py given a password (HELLO 3 AUTH default ...) works as against Redis.
        client = aioredis.Redis(port=port, password="anything", socket_timeout=30)
        try:
            assert await client.get("x") is None
        finally:
            await client.aclose()
    assert replies[0].startswith(b"-ERR AUTH <password> called without any password configured")
    assert replies[1] == b"+OK\r\n"
    assert replies[2] == WRONGPASS
    assert replies[3] == b"$-1\r\n"
    assert replies[4].startswith(b"%")


async def test_grpc_a_huge_authorization_value_is_refused_without_echo(
    channel: grpc.aio.Channel,
) -> None:
    huge = APP_TOKEN + "A" * 64 * 1024
    answer, details = await grpc_code(
        channel, kv_pb2.GetRequest(key="app/x"), (("authorization", f"Bearer {huge}"),)
    )
    assert answer not in (grpc.StatusCode.OK, grpc.StatusCode.NOT_FOUND)
    assert "AAAAAAAA" not in details


async def test_resp_a_huge_token_is_wrongpass_and_the_connection_goes_on(resp: int) -> None:
    huge = APP_TOKEN + "A" * 512 * 1024
    replies = await exchange(resp, ("AUTH", huge), ("AUTH", APP_TOKEN), ("GET", "app/x"))
    assert replies == [WRONGPASS, b"+OK\r\n", b"$-1\r\n"]
