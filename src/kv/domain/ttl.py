"""Time to live: the limits on a write's `ttl` and the seconds an entry has left."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TypeAlias

from kv.domain.errors import InvalidRequest
from kv.domain.model import Entry

# The current time in Unix seconds (time.time in production; tests inject their own).
Clock: TypeAlias = Callable[[], float]

MIN_TTL_SECONDS = 1
MAX_TTL_SECONDS = 31_536_000  # 365 days


def validate_ttl(ttl: object) -> int | None:
    """`ttl` as whole seconds (None: no expiry); InvalidRequest unless a whole number in range.

    A float that is a whole number (5.0, as JSON may carry it) is accepted;
    a bool is not a number here.
    """
    if ttl is None:
        return None
    if isinstance(ttl, float) and ttl.is_integer():
        ttl = int(ttl)
    if type(ttl) is not int:
        raise InvalidRequest(f"ttl must be a whole number of seconds, got {ttl!r}")
    if not MIN_TTL_SECONDS <= ttl <= MAX_TTL_SECONDS:
        raise InvalidRequest(
            f"ttl must be from {MIN_TTL_SECONDS} to {MAX_TTL_SECONDS} seconds, got {ttl}"
        )
    return ttl


def seconds_left(entry: Entry, now: float) -> int | None:
    """The whole seconds `entry` has left at `now`, rounded up; None when it does not expire.

    At least 1: an answer describes an entry that was alive when it was read or written, and
    the moments between that and the answer (a slow client, a loaded machine, a replayed
    write's answer) must not turn it into "0 seconds left", a ttl no write may carry.
    """
    if entry.expires_at is None:
        return None
    return max(1, math.ceil(entry.expires_at - now))
