"""Admission: how much a server serves at once, and nothing new once it drains.

Every transport keeps one per server: at most `limit` requests in progress
(`KV_MAX_CONCURRENT_REQUESTS`) and, where a transport knows the size of a
request before it parses it (gRPC), at most `max_bytes` of requests held,
except that one request is always taken on when none holds any (so the
largest request allowed can always be served). A request beyond either
limit, or arriving after shutdown began, is answered "unavailable" at once
(HTTP 503 with Retry-After, gRPC UNAVAILABLE: nothing was done, safe to
retry), so that memory is bounded by the limits and not by the clients, and
a shutdown waits only for what it had already taken on.
"""

from __future__ import annotations

import asyncio

SHUTTING_DOWN = "server is shutting down; retry elsewhere or shortly"


class Admission:
    """A count of requests in progress against a limit, and whether the server is draining."""

    def __init__(self, limit: int, max_bytes: int | None = None) -> None:
        self.limit = limit
        self.max_bytes = max_bytes
        self.in_progress = 0
        self.bytes_in_progress = 0
        self.draining = False
        self.entered = 0  # requests ever taken on or refused (each `enter`)
        self.idle = asyncio.Event()  # set while no request is in progress
        self.idle.set()

    def refusal(self) -> str | None:
        """Why a new request cannot be taken on now, or None when it can."""
        if self.draining:
            return SHUTTING_DOWN
        if self.in_progress >= self.limit:
            return f"server busy: {self.limit} requests in progress; retry shortly"
        return None

    def bytes_refusal(self, size: int) -> str | None:
        """Why a request in progress cannot hold `size` bytes more now, or None when it can."""
        if (
            self.max_bytes is not None
            and self.bytes_in_progress
            and self.bytes_in_progress + size > self.max_bytes
        ):
            return f"server busy: {self.bytes_in_progress} bytes of requests in progress"
        return None

    def enter(self) -> None:
        self.entered += 1
        self.in_progress += 1
        if self.in_progress == 1:  # `idle` is set only while none is in progress
            self.idle.clear()

    def hold(self, size: int) -> None:
        """Count `size` bytes more as held by a request in progress, until it leaves."""
        self.bytes_in_progress += size

    def leave(self, size: int = 0) -> None:
        self.in_progress -= 1
        self.bytes_in_progress -= size
        if not self.in_progress:
            self.idle.set()

    async def wait_idle(self, deadline: float) -> bool:
        """Wait until no request is in progress, or the loop time `deadline`; True if idle."""
        try:
            async with asyncio.timeout_at(deadline):
                await self.idle.wait()
        except TimeoutError:
            return False
        return True
