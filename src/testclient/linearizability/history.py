"""The history a linearizability check reads: operations with their times and outcomes.

Times are seconds on one monotonic clock (`time.monotonic()` of the process
that ran every client). An operation whose outcome the client never learned
(`Outcome.UNKNOWN`: the call timed out, the service was unavailable, or it
answered `outcome_unknown`) has `completed = math.inf`: it may have taken
effect at any moment after its invocation, or never.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from enum import Enum
from typing import Any


class Kind(Enum):
    """What an operation asked of the store."""

    GET = "get"
    PUT = "put"
    CREATE = "create"
    DELETE = "delete"


class Outcome(Enum):
    """What the client learned of an operation's effect."""

    OK = "ok"
    NOT_FOUND = "not found"
    EXISTS = "already exists"
    PRECONDITION_FAILED = "precondition failed"
    UNKNOWN = "unknown"
    """Unavailable, timed out or `outcome_unknown`: possibly applied, possibly not."""


@dataclass(frozen=True, slots=True)
class Observed:
    """The entry an OK operation returned (for delete: the entry it removed)."""

    value: Any
    revision: int
    created: bool | None = None
    """Put only: whether the put reported creating the key."""


@dataclass(frozen=True, slots=True)
class Operation:
    """One call of one client, from invocation to completion.

    `value` is what a put or create wrote; `expected_revision` the condition
    of a conditional put or delete (None: unconditional); `observed` what an
    OK call returned.
    """

    client: int
    key: str
    kind: Kind
    invoked: float
    completed: float
    outcome: Outcome
    value: Any = None
    expected_revision: int | None = None
    observed: Observed | None = None

    def __post_init__(self) -> None:
        if (self.outcome is Outcome.OK) != (self.observed is not None):
            raise ValueError("an OK operation carries what it observed, and only an OK one")
        if self.completed < self.invoked:
            raise ValueError("an operation cannot complete before it is invoked")

    @property
    def writes(self) -> bool:
        return self.kind is not Kind.GET

    @property
    def pending(self) -> bool:
        """True when the outcome is unknown: the operation never completed for its client."""
        return self.outcome is Outcome.UNKNOWN

    def unknown(self) -> Operation:
        """This operation as if its client had never learned the outcome."""
        return Operation(
            self.client,
            self.key,
            self.kind,
            self.invoked,
            math.inf,
            Outcome.UNKNOWN,
            self.value,
            self.expected_revision,
        )


def value_text(value: Any) -> str:
    """A JSON value as canonical text, so that equal JSON values compare and hash equal.

    Whole floats are written as integers: JSON has one number type, and gRPC
    carries every number as a double.
    """
    return json.dumps(_whole_numbers(value), sort_keys=True, ensure_ascii=False)


def _whole_numbers(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {name: _whole_numbers(item) for name, item in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(item) for item in value]
    return value
