"""PolledSubscription: the `Subscription` protocol over what a watcher has at hand now.

Both change feeds (the local stores' `ChangeHistory`, etcd's own watch
streams) hand a watcher the changes available now and let it wait for more;
iteration and `ready` follow from those two.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Self

from kv.domain import Change


class PolledSubscription(ABC):
    """A `Subscription` (kv.domain.ports) made of `_available` and `_more`."""

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Change:
        while True:
            found = self._available(1)
            if found:
                return found[0]
            await self._more()

    def ready(self, limit: int) -> list[Change]:
        """Up to `limit` further changes available now, without waiting (see `Subscription`)."""
        try:
            return self._available(limit)
        except StopAsyncIteration:
            return []

    @abstractmethod
    def _available(self, limit: int) -> list[Change]:
        """Up to `limit` changes at hand ([]: none yet); StopAsyncIteration once closed."""

    @abstractmethod
    async def _more(self) -> None:
        """Wait until more may be at hand; cancelled, it loses no change."""
