"""A write sent with an idempotency key, and retried once with it when nobody knows what happened.

The one retry rule of every `KVClient` (RESP has no idempotency key and
refuses one): a write whose first attempt ends OutcomeUnknown or Unavailable
(a dropped or refused connection, a server that could not serve) is sent
again with the same key. The service carries it out if the first attempt
never was, or answers the first attempt's answer again if it was: either
way it is applied once, and the retry learns what happened.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TypeVar

from testclient.client import (
    IdempotencyReport,
    KVEntry,
    KVTxnResult,
    OutcomeUnknown,
    Unavailable,
    Written,
)

Answer = TypeVar("Answer", KVEntry, Written, KVTxnResult)
# attempt(key) sends the write (with `key` when not None): (its answer, whether it is a replay).
Attempt = Callable[[str | None], Awaitable[tuple[Answer, bool]]]


async def send_write(key: str | None, attempt: Attempt[Answer]) -> Answer:
    """The write's answer; with `key`, carrying an `IdempotencyReport` of what happened."""
    if key is None:
        return (await attempt(None))[0]
    try:
        answer, replayed = await attempt(key)
        report = IdempotencyReport(key, replayed)
    except (OutcomeUnknown, Unavailable) as first:
        answer, replayed = await attempt(key)
        failure = f"{type(first).__name__}: {first}"
        report = IdempotencyReport(key, replayed, retried=True, first_failure=failure)
    return replace(answer, idempotency=report)
