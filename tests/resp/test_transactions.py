"""MULTI/EXEC/DISCARD/WATCH/UNWATCH, MSET/MSETNX, INCR and friends, KEYS/DBSIZE/TYPE/UNLINK,
through redis-py unchanged (`pipeline(transaction=True)`, `transaction(func, *watches)`)."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
import redis.asyncio as redis
from redis.exceptions import ExecAbortError, ResponseError, WatchError

from tests.inprocess import Served


def unique(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


async def test_a_pipeline_transaction_applies_at_one_revision(
    client: redis.Redis, served: Served
) -> None:
    a, b = unique(), unique()
    await client.set(a, "old")
    async with client.pipeline(transaction=True) as pipe:
        pipe.set(a, "1").set(b, "2").get(a).incr(b).delete(a).exists(a, b)
        replies = await pipe.execute()
    assert replies == [True, True, "1", 3, 1, 1]
    assert await client.get(b) == "3"
    entry = await served.client.get(b)
    assert entry.value == 3  # INCR stores a JSON integer
    c, d = unique(), unique()
    async with client.pipeline(transaction=True) as pipe:
        await pipe.set(c, "c").set(d, "d").execute()
    # Every write of one EXEC takes one revision.
    assert (await served.client.get(c)).revision == (await served.client.get(d)).revision


async def test_exec_runs_nothing_when_a_watched_key_changed(
    client: redis.Redis, served: Served
) -> None:
    key, other = unique(), unique()
    await client.set(key, "1")
    async with client.pipeline(transaction=True) as pipe:
        await pipe.watch(key)
        await served.client.put(key, "changed elsewhere")
        pipe.multi()
        pipe.set(other, "x")
        with pytest.raises(WatchError):
            await pipe.execute()
    assert await client.get(other) is None
    assert await client.get(key) == "changed elsewhere"


async def test_transaction_with_watch_retries_until_it_applies(client: redis.Redis) -> None:
    """redis-py's optimistic transaction: concurrent increments through WATCH lose none."""
    key = unique()
    await client.set(key, "0")

    async def bump(pipe: redis.client.Pipeline) -> None:  # type: ignore[name-defined]
        current = int(await pipe.get(key))
        pipe.multi()
        pipe.set(key, str(current + 1))

    await asyncio.gather(*(client.transaction(bump, key) for _ in range(20)))
    assert await client.get(key) == "20"


async def test_errors_while_queueing_abort_exec(client: redis.Redis) -> None:
    key = unique()
    async with client.pipeline(transaction=True) as pipe:
        pipe.set(key, "1")
        pipe.execute_command("NOSUCHCOMMAND")
        with pytest.raises((ExecAbortError, ResponseError)):
            await pipe.execute()
    assert await client.get(key) is None
    async with client.pipeline(transaction=True) as pipe:
        pipe.set(key, "1")
        pipe.execute_command("KV.GET", key)  # a command a transaction cannot hold
        with pytest.raises((ExecAbortError, ResponseError)):
            await pipe.execute()
    assert await client.get(key) is None


async def test_a_runtime_error_is_that_command_s_reply_and_the_rest_apply(
    client: redis.Redis,
) -> None:
    text, number = unique(), unique()
    await client.set(text, "not a number")
    async with client.pipeline(transaction=True) as pipe:
        pipe.incr(text).set(number, "5").incrby(number, 10)
        replies = await pipe.execute(raise_on_error=False)
    assert isinstance(replies[0], ResponseError)
    assert replies[1:] == [True, 15]


async def test_multi_exec_discard_by_hand(client: redis.Redis) -> None:
    key = unique()
    assert await client.execute_command("MULTI") in (True, "OK")
    assert await client.execute_command("ECHO", key) == "QUEUED"
    with pytest.raises(ResponseError, match="nested"):
        await client.execute_command("MULTI")
    assert await client.execute_command("DISCARD") in (True, "OK")
    assert await client.get(key) is None
    with pytest.raises(ResponseError, match="EXEC without MULTI"):
        await client.execute_command("EXEC")
    with pytest.raises(ResponseError, match="DISCARD without MULTI"):
        await client.execute_command("DISCARD")
    await client.execute_command("WATCH", key)
    assert await client.execute_command("UNWATCH") in (True, "OK")


async def test_mset_msetnx_and_counters(client: redis.Redis) -> None:
    a, b, c = unique(), unique(), unique()
    assert await client.mset({a: "1", b: "2"}) is True
    assert await client.mget(a, b) == ["1", "2"]
    assert await client.msetnx({b: "x", c: "3"}) is False
    assert await client.get(c) is None
    assert await client.msetnx({c: "3"}) is True
    assert await client.incr(a) == 2
    assert await client.incrby(a, 10) == 12
    assert await client.decr(a) == 11
    assert await client.decrby(a, 20) == -9
    assert await client.incr(unique()) == 1
    await client.set(b, "text")
    with pytest.raises(ResponseError, match="not an integer"):
        await client.incr(b)
    with pytest.raises(ResponseError, match="not an integer"):
        await client.incrby(a, "1.5")  # type: ignore[arg-type]
    with pytest.raises(ResponseError, match="wrong number"):
        await client.execute_command("MSET", a)


async def test_concurrent_increments_lose_none(client: redis.Redis) -> None:
    key = unique()
    results = await asyncio.gather(*(client.incr(key) for _ in range(50)))
    assert sorted(results) == list(range(1, 51))
    assert await client.get(key) == "50"


async def test_keys_dbsize_type_unlink(client: redis.Redis, served: Served) -> None:
    prefix = unique("keys") + ":"
    await client.mset({prefix + "a": "1", prefix + "b": "2"})
    await served.client.put(prefix + "c", {"json": True})
    assert sorted(await client.keys(prefix + "*")) == [prefix + n for n in "abc"]
    with pytest.raises(ResponseError, match="prefix"):
        await client.keys("a?b")
    assert await client.dbsize() >= 3
    assert await client.type(prefix + "c") == "string"
    assert await client.type(prefix + "none") == "none"
    assert await client.unlink(prefix + "a", prefix + "none") == 1
    assert await client.exists(prefix + "a") == 0


async def test_kv_txn_answers_the_http_answer(client: redis.Redis) -> None:
    key = unique()
    answer = json.loads(
        await client.execute_command(
            "KV.TXN", json.dumps({"success": [{"op": "put", "key": key, "value": [1]}]})
        )
    )
    assert answer == {
        "succeeded": True,
        "revision": answer["revision"],
        "results": [{"key": key, "revision": answer["revision"], "created": True}],
    }
    with pytest.raises(ResponseError, match="unknown transaction field"):
        await client.execute_command("KV.TXN", '{"nonsense": 1}')


async def test_a_transaction_queues_no_more_than_one_transaction_holds(
    client: redis.Redis, served: Served
) -> None:
    """Queueing is bounded like a transaction's body: past 128 commands, or past the values'
    limit together, a command is refused and EXEC aborts, applying nothing."""
    key = unique()
    async with client.pipeline(transaction=True) as pipe:
        for n in range(129):
            pipe.set(key, str(n))
        with pytest.raises(ResponseError, match="at most 128 commands"):
            await pipe.execute()
    big = "x" * (600 * 1024)  # two of them pass the 1 MiB of values one transaction may carry
    async with client.pipeline(transaction=True) as pipe:
        pipe.set(key, big).set(unique(), big)
        with pytest.raises(ResponseError, match="too large together"):
            await pipe.execute()
    assert await client.get(key) is None
