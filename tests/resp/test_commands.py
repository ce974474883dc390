"""The Redis commands and the KV.* commands, through redis-py in RESP2 and RESP3."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import redis.asyncio as redis
from redis.exceptions import ResponseError

from testclient.client import KVClient
from tests.inprocess import Served


def unique(prefix: str = "k") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


async def test_ping_echo_select(client: redis.Redis) -> None:
    assert await client.ping() is True
    assert await client.echo("hello") == "hello"
    assert await client.execute_command("SELECT", 0) in (True, "OK")
    with pytest.raises(ResponseError, match="out of range"):
        await client.execute_command("SELECT", 1)


async def test_set_get_round_trip_as_a_json_string(client: redis.Redis, served: Served) -> None:
    key = unique()
    assert await client.set(key, "héllo wörld") is True
    assert await client.get(key) == "héllo wörld"
    # Stored as a JSON string: the KV API reads it as one.
    assert (await served.client.get(key)).value == "héllo wörld"


async def test_get_answers_other_values_as_compact_json(
    client: redis.Redis, served: Served
) -> None:
    key = unique()
    await served.client.put(key, {"a": [1, 2.5, None, True]})
    assert await client.get(key) == '{"a":[1,2.5,null,true]}'
    assert await client.get(unique()) is None


async def test_set_nx_and_xx(client: redis.Redis) -> None:
    key = unique()
    assert await client.set(key, "one", xx=True) is None
    assert await client.get(key) is None
    assert await client.set(key, "one", nx=True) is True
    assert await client.set(key, "two", nx=True) is None
    assert await client.set(key, "three", xx=True) is True
    assert await client.get(key) == "three"
    with pytest.raises(ResponseError, match="syntax"):
        await client.execute_command("SET", key, "v", "NX", "XX")


async def test_set_get_answers_the_old_value(client: redis.Redis) -> None:
    key = unique()
    assert await client.set(key, "one", get=True) is None
    assert await client.set(key, "two", get=True) == "one"
    assert await client.get(key) == "two"


async def test_getdel_del_exists_mget(client: redis.Redis) -> None:
    a, b, missing = unique(), unique(), unique()
    await client.set(a, "1")
    await client.set(b, "2")
    assert await client.mget(a, missing, b) == ["1", None, "2"]
    assert await client.exists(a, b, missing, a) == 3
    assert await client.getdel(a) == "1"
    assert await client.getdel(a) is None
    assert await client.delete(a, b, missing) == 1
    assert await client.exists(a, b) == 0


async def test_kv_commands_carry_json_revisions_and_conditions(client: redis.Redis) -> None:
    key = unique()
    put = await client.execute_command("KV.PUT", key, '{"n": [1, 2]}')
    fields = put if isinstance(put, dict) else dict(zip(put[::2], put[1::2], strict=True))
    assert (fields["key"], json.loads(fields["value"]), int(fields["created"])) == (
        key,
        {"n": [1, 2]},
        1,
    )
    revision = int(fields["revision"])
    with pytest.raises(ResponseError, match=r"^CONFLICT"):
        await client.execute_command("KV.PUT", key, "2", "IFREV", revision + 1)
    for beyond_every_revision in ("9223372036854775808", "99999999999999999999"):
        with pytest.raises(ResponseError, match=r"^CONFLICT"):
            await client.execute_command("KV.PUT", key, "2", "IFREV", beyond_every_revision)
    await client.execute_command("KV.PUT", key, "2", "IFREV", revision)
    with pytest.raises(ResponseError, match=r"^EXISTS"):
        await client.execute_command("KV.CREATE", key, "3")
    with pytest.raises(ResponseError, match=r"^CONFLICT"):
        await client.execute_command("KV.PUT", key, "3", "IFABSENT")
    assert await client.get(key) == "2"
    await client.execute_command("KV.DELETE", key)
    with pytest.raises(ResponseError, match=r"^NOTFOUND"):
        await client.execute_command("KV.GET", key)


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (("KV.PUT", "k", "{not json"), "not JSON"),
        (("KV.PUT", "k", "1", "IFREV", "x"), "integer"),
        (("KV.PUT", "k", "1", "IFREV", "0"), "positive"),
        (("KV.PUT", "k", "1", "SOMETIMES"), "syntax"),
        (("KV.DELETE", "k", "IFABSENT"), "syntax"),
        (("KV.GET", ""), "empty"),
        (("SET", "k", "v", "EX", "0"), "invalid expire time"),
        (("SET", "k", "v", "EX", "x"), "not an integer"),
        (("SET", "k", "v", "EX", "10", "KEEPTTL"), "syntax"),
        (("SET", "k", "v", "EXAT", "10"), "EXAT and PXAT are not supported"),
        (("SET", "k", "v", "EX", "31536001"), "ttl must be"),
        (("EXPIRE", "k", "10", "NX"), "not supported"),
        (("KV.PUT", "k", "1", "TTL", "0"), "ttl must be"),
        (("SCAN", "0", "MATCH", "a*b*"), "prefix followed by one"),
        (("SCAN", "0", "COUNT", "0"), "syntax"),
        (("SCAN", "12345"), "invalid cursor"),
        (("SCAN", "x"), "invalid cursor"),
        (("NOSUCHCOMMAND", "a", "b"), "unknown command 'NOSUCHCOMMAND'"),
        (("GET",), "wrong number of arguments for 'get'"),
        (("GET", "a", "b"), "wrong number of arguments"),
        (("HELLO", "4"), "unsupported protocol"),
        (("CLIENT", "MAINT_NOTIFICATIONS", "on"), "unknown subcommand"),
    ],
    ids=lambda part: part if isinstance(part, str) else " ".join(part),
)
async def test_refusals_are_error_replies_on_a_connection_that_stays(
    served: Served, command: tuple[str, ...], message: str
) -> None:
    connection = redis.Redis.from_url(
        served.client_settings.addresses["resp"], single_connection_client=True
    )
    try:
        with pytest.raises(ResponseError, match=message):
            await connection.execute_command(*command)
        assert await connection.ping() is True  # the same connection still serves
    finally:
        await connection.aclose()


async def test_client_command_config_info(client: redis.Redis) -> None:
    assert await client.client_setname("tester") is True
    assert await client.client_getname() == "tester"
    assert isinstance(await client.client_id(), int)
    assert await client.command_count() > 10
    assert (await client.command())["get"]["arity"] == 2
    docs = await client.execute_command("COMMAND", "DOCS")
    assert not docs
    assert await client.config_get("save") == {"save": ""}
    assert await client.config_get("nothing-like-this") == {}
    assert "redis_version" in await client.info()


async def test_commands_of_a_pipeline_are_answered_in_order(client: redis.Redis) -> None:
    key = unique()
    async with client.pipeline(transaction=False) as pipe:
        for n in range(200):
            pipe.set(key, str(n))
            pipe.get(key)
        replies = await pipe.execute()
    assert replies[1::2] == [str(n) for n in range(200)]


async def test_the_kv_client_sees_what_redis_commands_wrote(
    client: redis.Redis, served: Served
) -> None:
    kv: KVClient = served.client
    key = unique()
    await client.set(key, "from redis")
    first = await kv.get(key)
    await client.set(key, "again")
    assert (await kv.get(key)).revision > first.revision


async def test_expiry_commands(client: redis.Redis, served: Served) -> None:
    key, other, missing = unique(), unique(), unique()
    assert await client.set(key, "v", ex=100) is True
    assert 99 <= await client.ttl(key) <= 100
    assert 99_000 <= await client.pttl(key) <= 100_000
    assert (await served.client.get(key)).value == "v"
    assert await client.set(key, "w", keepttl=True) is True
    assert await client.ttl(key) > 0
    assert await client.get(key) == "w"
    assert await client.persist(key) == 1
    assert await client.ttl(key) == -1
    assert await client.persist(key) == 0
    assert await client.expire(key, 50) == 1
    assert 49 <= await client.ttl(key) <= 50
    assert await client.pexpire(key, 1500) == 1
    assert await client.ttl(key) == 2  # milliseconds round up to whole seconds
    assert await client.set(key, "x") is True  # a SET without expiry clears it
    assert await client.ttl(key) == -1
    assert await client.set(other, "y", px=2500) is True
    assert await client.ttl(other) == 3
    assert await client.expire(other, 0) == 1  # an expiry not in the future deletes
    assert await client.exists(other) == 0
    assert (await client.ttl(missing), await client.pttl(missing)) == (-2, -2)
    assert await client.expire(missing, 10) == 0


async def test_kv_put_with_ttl_answers_the_seconds_left(client: redis.Redis) -> None:
    key = unique()
    put = await client.execute_command("KV.PUT", key, '"v"', "IFABSENT", "TTL", 60)
    fields = put if isinstance(put, dict) else dict(zip(put[::2], put[1::2], strict=True))
    assert 59 <= int(fields["ttl"]) <= 60
    created = await client.execute_command("KV.CREATE", unique(), "1", "TTL", 5)
    assert "ttl" in (created if isinstance(created, dict) else created[::2])


async def test_scan_pages_through_a_prefix(client: redis.Redis) -> None:
    prefix = unique("scan") + ":"
    keys = {f"{prefix}{n:03d}" for n in range(25)}
    for key in keys:
        await client.set(key, "v")
    await client.set(prefix[:-1], "not under the prefix")
    seen: list[str] = []
    cursor: int | str = 0
    pages = 0
    while True:
        cursor, page = await client.execute_command(
            "SCAN", cursor, "MATCH", f"{prefix}*", "COUNT", 10
        )
        seen += page
        pages += 1
        if cursor in ("0", 0):
            break
    assert sorted(seen) == sorted(keys)
    assert pages == 3
    assert [key async for key in client.scan_iter(match=f"{prefix}*")] == sorted(keys)


def _map(reply: Any) -> dict[str, Any]:
    """A RESP3 map, or the flat array of field, value, ... RESP2 has for it."""
    return reply if isinstance(reply, dict) else dict(zip(reply[::2], reply[1::2], strict=True))


async def test_kv_list_pages_as_get_v1_kv_does(client: redis.Redis) -> None:
    prefix = unique("list") + "/"
    for n in range(3):
        await client.execute_command("KV.PUT", f"{prefix}{n}", json.dumps({"n": n}))
    first = _map(await client.execute_command("KV.LIST", prefix, "LIMIT", 2))
    entries = [_map(entry) for entry in first["entries"]]
    assert [(e["key"], json.loads(e["value"])) for e in entries] == [
        (f"{prefix}0", {"n": 0}),
        (f"{prefix}1", {"n": 1}),
    ]
    assert int(first["revision"]) >= int(entries[1]["revision"])
    last = _map(
        await client.execute_command("KV.LIST", prefix, "CURSOR", first["next_cursor"], "KEYSONLY")
    )
    (only,) = [_map(entry) for entry in last["entries"]]
    assert set(only) == {"key", "revision"}
    assert only["key"] == f"{prefix}2"
    assert last["next_cursor"] is None
    for words, message in (
        (("LIMIT", 0), "limit"),
        (("CURSOR", "nonsense"), "cursor"),
        (("SOMETIMES",), "syntax"),
    ):
        with pytest.raises(ResponseError, match=message):
            await client.execute_command("KV.LIST", prefix, *words)
