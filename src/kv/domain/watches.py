"""OpenWatches: the watches a service has open, at most a configured number, ended at shutdown.

A watch lasts as long as its client wants, and each costs the server a
socket and its buffers, so their number is bounded by configuration
(`KV_MAX_WATCHERS`), not by the clients: one more is refused with
TooManyWatches before anything is subscribed. The count is the service's,
so it covers every transport serving it at once.

A watch counts from the moment it is admitted (before the store's
`subscribe`, which may wait on a remote store) until its subscription is
closed, by its transport when the stream ends, or by `end_all` at shutdown.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from kv.domain.changes import Change
from kv.domain.errors import StorageUnavailable, TooManyWatches
from kv.domain.ports import Subscription

DEFAULT_MAX_WATCHES = 1024


class OpenWatches:
    """The open watches of one service, at most `limit` of them."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: set[CountedSubscription] = set()
        self._subscribing = 0  # admitted, their store's subscribe still under way
        self._ended = False

    def __len__(self) -> int:
        return len(self._open)

    async def open(self, subscribe: Callable[[], Awaitable[Subscription]]) -> Subscription:
        """Admit a watch and open it with `subscribe`; TooManyWatches when `limit` are open.

        StorageUnavailable once `end_all` was called (shutting down), also when
        that happened while `subscribe` was under way.
        """
        if self._ended:
            raise StorageUnavailable("shutting down")
        if len(self._open) + self._subscribing >= self.limit:
            raise TooManyWatches(self.limit)
        self._subscribing += 1
        try:
            subscription = await subscribe()
        finally:
            self._subscribing -= 1
        if self._ended:
            subscription.close()
            raise StorageUnavailable("shutting down")
        counted = CountedSubscription(subscription, self._open)
        self._open.add(counted)
        return counted

    def end_all(self) -> None:
        """End every open watch, and refuse new ones from now on."""
        self._ended = True
        for subscription in list(self._open):
            subscription.close()


class CountedSubscription:
    """A store's subscription that holds a place among the open watches until it is closed."""

    __slots__ = ("_inner", "_open")

    def __init__(self, inner: Subscription, open_watches: set[CountedSubscription]) -> None:
        self._inner = inner
        self._open = open_watches

    def __aiter__(self) -> CountedSubscription:
        return self

    def __anext__(self) -> Coroutine[Any, Any, Change]:
        # The store's own awaitable, not one more coroutine around it.
        return self._inner.__anext__()

    def ready(self, limit: int) -> list[Change]:
        """See `Subscription.ready`."""
        return self._inner.ready(limit)

    def close(self) -> None:
        """End the subscription and free its place (idempotent)."""
        self._open.discard(self)
        self._inner.close()
