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
    """A `Subscription` (kv.domain.ports) made of `_available` and `_more`.

    `_available` may answer more than it was asked for, to finish the
    changes of one revision (a transaction's): what `__anext__` does not
    take yet waits in `_taken`, ahead of anything `_available` gives later.
    """

    _taken: tuple[Change, ...] = ()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Change:
        while True:
            if self._taken:
                change, self._taken = self._taken[0], self._taken[1:]
                return change
            found = self._available(1)
            if found:
                self._taken = tuple(found[1:])
                return found[0]
            await self._more()

    def ready(self, limit: int) -> list[Change]:
        """Up to `limit` further changes available now, without waiting (see `Subscription`).

        More than `limit` when the last one's revision has more changes:
        the changes of a transaction are handed out together.
        """
        held, self._taken = list(self._taken), ()
        if held and len(held) >= limit:
            return held
        try:
            return held + self._available(limit - len(held))
        except StopAsyncIteration:
            return held

    @abstractmethod
    def _available(self, limit: int) -> list[Change]:
        """Up to `limit` changes at hand ([]: none yet); StopAsyncIteration once closed."""

    @abstractmethod
    async def _more(self) -> None:
        """Wait until more may be at hand; cancelled, it loses no change."""
