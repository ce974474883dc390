"""The one look-up of every error table: the row of an error's most specific mapped class.

Each transport maps the domain's errors (and HTTP its parser's) in one table
from exception class to answer. An error whose own class has no row takes the
row of its nearest base class that has one, in method resolution order, so a
subclass added later is answered as its parent until it gets a row of its own
(as httpx's `map_exceptions` does).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

Mapped = TypeVar("Mapped", bound=BaseException)
Answer = TypeVar("Answer")


def closest_row(table: Mapping[type[Mapped], Answer], error: BaseException) -> Answer | None:
    """The answer `table` maps for `error`'s most specific mapped class; None if none is mapped."""
    for cls in type(error).__mro__:
        if cls in table:
            return table[cls]
    return None
