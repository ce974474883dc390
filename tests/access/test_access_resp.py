"""RESP's own answers to access control: `-NOAUTH`, `-WRONGPASS`, `-NOPERM` (a command refused
whole), AUTH and HELLO AUTH, redis-py's username/password as users run it, and AUTH without an
auth file as Redis with no password answers it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from redis.exceptions import AuthenticationError

from tests.access.secured import ADMIN_TOKEN, APP_TOKEN, WRONG_TOKEN, serve_secured
from tests.inprocess import serve_in_process

NOAUTH = b"-NOAUTH Authentication required.\r\n"
WRONGPASS = b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"

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


async def test_resp_a_long_token_is_wrongpass_and_the_connection_goes_on(resp: int) -> None:
    longest = APP_TOKEN + "A" * (16384 - len(APP_TOKEN))  # the longest word before AUTH
    replies = await exchange(resp, ("AUTH", longest), ("AUTH", APP_TOKEN), ("GET", "app/x"))
    assert replies == [WRONGPASS, b"+OK\r\n", b"$-1\r\n"]


def frame(*words: bytes) -> bytes:
    return b"*%d\r\n" % len(words) + b"".join(b"$%d\r\n%s\r\n" % (len(w), w) for w in words)


async def send_and_read_all(port: int, data: bytes) -> bytes:
    """Write `data` at once, then read what the server answers until it closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        writer.write_eof()
        return await asyncio.wait_for(reader.read(), 30)
    finally:
        writer.close()


@pytest.mark.parametrize(
    ("request_", "error"),
    [
        (frame(*[b"GET"] * 11), b"multibulk"),
        (frame(b"AUTH", b"x" * 16385), b"bulk"),
        (b"*2\r\n$3\r\nSET\r\n$16385\r\n", b"bulk"),  # refused from the header alone
        (frame(b"AUTH", WRONG_TOKEN.encode()) + frame(b"SET", b"app/k", b"v" * 16385), b"bulk"),
    ],
    ids=["11-words", "16385-bytes", "header", "behind-a-failed-auth"],
)
async def test_resp_before_auth_redis_tighter_limits_hold(
    resp: int, request_: bytes, error: bytes
) -> None:
    # As Redis: past 10 words or a word past 16384 bytes before AUTH is a protocol error,
    # and the connection is closed at once (EOF after the error, not the idle timeout).
    reader, writer = await asyncio.open_connection("127.0.0.1", resp)
    try:
        writer.write(request_)
        answer = await asyncio.wait_for(reader.read(), 30)
    finally:
        writer.close()
    refusal = b"-ERR Protocol error: unauthenticated " + error + b" length\r\n"
    assert answer.endswith(refusal)
    assert answer in (refusal, WRONGPASS + refusal)


async def test_resp_auth_lifts_the_limits_for_what_is_pipelined_behind_it(resp: int) -> None:
    value = b"v" * 100_000
    words = [b"MSET"] + [b"app/%d" % i for i in range(10) for _ in "kv"]
    answer = await send_and_read_all(
        resp,
        frame(b"AUTH", ADMIN_TOKEN.encode())
        + frame(b"SET", b"app/large", value)
        + frame(*words)
        + frame(b"GET", b"app/large"),
    )
    assert answer == b"+OK\r\n+OK\r\n+OK\r\n$100000\r\n" + value + b"\r\n"


async def test_resp_many_requests_pipelined_before_auth_are_each_answered(resp: int) -> None:
    # One at a time, reading paused while more than one request's worth is kept:
    # 300 KB of PINGs are all answered, then the AUTH behind them lifts the limits.
    count = 20_000
    answer = await send_and_read_all(
        resp,
        frame(b"PING") * count
        + frame(b"AUTH", APP_TOKEN.encode())
        + frame(b"SET", b"app/k", b"v" * 20_000),
    )
    assert answer == NOAUTH * count + b"+OK\r\n+OK\r\n"


async def test_resp_without_an_auth_file_has_no_tighter_limits() -> None:
    async with serve_in_process("resp") as served:
        answer = await send_and_read_all(
            served.settings.ports["resp"],
            frame(b"SET", b"k", b"v" * 100_000) + frame(*[b"EXISTS"] + [b"k"] * 11),
        )
    assert answer == b"+OK\r\n:11\r\n"


async def test_resp_multi_exec_is_refused_whole_for_one_key_without_the_right(resp: int) -> None:
    replies = await exchange(
        resp,
        ("AUTH", APP_TOKEN),
        ("MULTI",),
        ("SET", "app/multi", "1"),
        ("SET", "shared/multi", "1"),
        ("EXEC",),
        ("EXISTS", "app/multi"),
    )
    assert replies[:4] == [b"+OK\r\n", b"+OK\r\n", b"+QUEUED\r\n", b"+QUEUED\r\n"]
    assert replies[4].startswith(b"-NOPERM ")
    assert replies[5] == b":0\r\n"
