"""start_eagerly: a coroutine runs in the caller until it waits, then in a task."""

from __future__ import annotations

import asyncio
from contextvars import ContextVar

import pytest

from kv.transports.resp.eager import start_eagerly

marked: ContextVar[str | None] = ContextVar("marked", default=None)


async def test_a_coroutine_that_never_waits_is_done_in_the_caller() -> None:
    done: list[str] = []

    async def answer() -> None:
        done.append("answered")

    assert start_eagerly(asyncio.get_running_loop(), answer()) is None
    assert done == ["answered"]


async def test_a_coroutine_that_waits_goes_on_in_a_task_with_what_it_waited_for() -> None:
    loop = asyncio.get_running_loop()
    arrived: asyncio.Future[str] = loop.create_future()
    seen: list[object] = []

    async def answer() -> None:
        token = marked.set("inside")
        seen.append("before")
        seen.append(await arrived)
        await asyncio.sleep(0)  # a bare yield, too
        seen.append(marked.get())
        marked.reset(token)  # in the context it was set in

    task = start_eagerly(loop, answer())
    assert task is not None
    assert seen == ["before"]
    assert marked.get() is None  # the caller's context is left as it was
    arrived.set_result("value")
    await task
    assert seen == ["before", "value", "inside"]


async def test_cancelling_the_task_cancels_the_coroutine_where_it_waits() -> None:
    loop = asyncio.get_running_loop()
    cleaned: list[str] = []

    async def answer() -> None:
        try:
            await loop.create_future()
        finally:
            cleaned.append("cleaned")

    task = start_eagerly(loop, answer())
    assert task is not None
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cleaned == ["cleaned"]


async def test_an_error_before_the_first_wait_reaches_the_caller() -> None:
    async def answer() -> None:
        raise LookupError("before any wait")

    with pytest.raises(LookupError, match="before any wait"):
        start_eagerly(asyncio.get_running_loop(), answer())
