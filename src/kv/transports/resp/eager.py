"""start_eagerly: run a coroutine at once, in the caller, until it first waits.

What Python 3.12's eager tasks do (`asyncio.eager_task_factory`), for one
coroutine: the connection answers what it received in the protocol callback
that received it when nothing makes it wait (a read from memory, a reply the
client has room for), with no task made and no turn of the event loop. When
the coroutine does wait, a task takes it over from that point, and it goes on
exactly as if it had been a task from the start: in a context of its own,
what it waits for is waited for by the task, and a cancellation of the task
is thrown into it there.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Coroutine, Generator
from typing import Any


def start_eagerly(
    loop: asyncio.AbstractEventLoop, coroutine: Coroutine[Any, Any, None]
) -> asyncio.Task[None] | None:
    """Run `coroutine` now until it waits (then return the task finishing it) or ends (None).

    An exception it raises before it first waits propagates to the caller.
    """
    # Its own context, as a task's: the task goes on in it, so that a context
    # variable set before the first wait is reset in the same context.
    context = contextvars.copy_context()
    try:
        waiting_for = context.run(coroutine.send, None)
    except StopIteration:
        return None
    return loop.create_task(_finish(coroutine, waiting_for), context=context)


async def _finish(coroutine: Coroutine[Any, Any, None], waiting_for: Any) -> None:
    await _Continued(coroutine, waiting_for)


class _Continued:
    """An awaitable going on with a started coroutine from where it waits."""

    def __init__(self, coroutine: Coroutine[Any, Any, None], waiting_for: Any) -> None:
        self._coroutine = coroutine
        self._waiting_for = waiting_for

    def __await__(self) -> Generator[Any, Any, None]:
        coroutine, waiting_for = self._coroutine, self._waiting_for
        while True:
            # What it waits for goes to the task as it was (a future flagged as
            # waited for, or None for a bare yield); what the task sends or
            # throws back goes to the coroutine.
            try:
                sent = yield waiting_for
            except GeneratorExit:  # the task is gone, never finished: so is the coroutine
                coroutine.close()
                raise
            except BaseException as exc:  # a cancellation, thrown in by the task
                try:
                    waiting_for = coroutine.throw(exc)
                except StopIteration:
                    return
            else:
                try:
                    waiting_for = coroutine.send(sent)
                except StopIteration:
                    return
