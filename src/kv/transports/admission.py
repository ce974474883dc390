"""Admission: how many requests a server serves at once, and none once it drains.

Every transport keeps one per server (`KV_MAX_CONCURRENT_REQUESTS`): a
request beyond the limit, or arriving after shutdown began, is answered
"unavailable" at once (HTTP 503 with Retry-After, gRPC UNAVAILABLE: nothing
was done, safe to retry), so that memory is bounded by the limit and not by
the clients, and a shutdown waits only for what it had already taken on.
"""

from __future__ import annotations

import asyncio


class Admission:
    """A count of requests in progress against a limit, and whether the server is draining."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_progress = 0
        self.draining = False
        self.idle = asyncio.Event()  # set while no request is in progress
        self.idle.set()

    def refusal(self) -> str | None:
        """Why a new request cannot be taken on now, or None when it can."""
        if self.draining:
            return "server is shutting down; retry elsewhere or shortly"
        if self.in_progress >= self.limit:
            return f"server busy: {self.limit} requests in progress; retry shortly"
        return None

    def enter(self) -> None:
        self.in_progress += 1
        self.idle.clear()

    def leave(self) -> None:
        self.in_progress -= 1
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
