"""Checks: how a scenario records what it expected, what it observed, and whether they agree.

Scenarios call KV operations through `attempt`, which returns the error a
call raised as a value, so one failed expectation is recorded and the
scenario goes on to its next check instead of stopping. Only `Unavailable`
propagates: a service that cannot be reached is an error, not a failed check.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, fields, is_dataclass
from typing import Any, TypeVar

from testclient.client import KVClientError, KVEntry, Unavailable, Written

T = TypeVar("T")

# Details of long keys and values are cut to this many characters, so that a
# failure stays readable; the cut says how much was left out.
DETAIL_LIMIT = 160
KEY_LIMIT = 80


@dataclass(frozen=True, slots=True)
class Check:
    """One named expectation of a scenario and its outcome."""

    name: str
    passed: bool
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "detail": self.detail}


async def attempt(call: Awaitable[T]) -> T | KVClientError:
    """The result of `call`, or the client error it raised; Unavailable is raised on."""
    try:
        return await call
    except Unavailable:
        raise
    except KVClientError as exc:
        return exc


class Checks:
    """The checks of one scenario run, in the order they were made."""

    def __init__(self) -> None:
        self._checks: list[Check] = []

    @property
    def all(self) -> tuple[Check, ...]:
        return tuple(self._checks)

    @property
    def failed(self) -> tuple[Check, ...]:
        return tuple(check for check in self._checks if not check.passed)

    def record(self, name: str, passed: bool, detail: str) -> bool:
        """Record a check whose outcome the scenario decided itself; returns `passed`."""
        self._checks.append(Check(name, passed, detail))
        return passed

    def expect_equal(self, name: str, expected: object, observed: object) -> bool:
        """Pass when `observed` is the same as `expected` (JSON values compare as JSON)."""
        return self.record(
            name,
            same(expected, observed),
            f"expected {describe(expected)}, observed {describe(observed)}",
        )

    def expect_error(self, name: str, error: type[KVClientError], observed: object) -> bool:
        """Pass when `observed` (a result of `attempt`) is the client error `error`."""
        return self.record(
            name,
            isinstance(observed, error),
            f"expected {error.__name__}, observed {describe(observed)}",
        )

    def expect_errors(
        self, name: str, error: type[KVClientError], observed: Sequence[object]
    ) -> bool:
        """Pass when every one of `observed` (results of `attempt`) is the client error `error`."""
        shown = (
            type(outcome).__name__ if isinstance(outcome, error) else describe(outcome)
            for outcome in observed
        )
        return self.record(
            name,
            all(isinstance(outcome, error) for outcome in observed),
            f"expected {error.__name__} each time, observed {', '.join(shown)}",
        )


def same(expected: object, observed: object) -> bool:
    """Equality of JSON values as JSON sees them, through the client's dataclasses.

    Stricter than `==` where Python is lax (True is not 1, "1" is not 1), and
    as lax as JSON where it has one number type: 1 and 1.0 are the same number
    (gRPC's `google.protobuf.Value` carries every number as a double).
    """
    if isinstance(expected, bool) or isinstance(observed, bool):
        return type(expected) is type(observed) and expected == observed
    if isinstance(expected, int | float) and isinstance(observed, int | float):
        return expected == observed
    if type(expected) is not type(observed):
        return False
    if isinstance(expected, dict):
        assert isinstance(observed, dict)
        return expected.keys() == observed.keys() and all(
            same(expected[key], observed[key]) for key in expected
        )
    if isinstance(expected, list | tuple):
        assert isinstance(observed, list | tuple)
        return len(expected) == len(observed) and all(
            same(a, b) for a, b in zip(expected, observed, strict=True)
        )
    if is_dataclass(expected) and not isinstance(expected, type):
        return all(
            same(getattr(expected, field.name), getattr(observed, field.name))
            for field in fields(expected)
            if field.compare  # (what the client reports beside the value: not part of it)
        )
    return expected == observed


def describe(thing: object) -> str:
    """A short, readable text for an entry, a write, an error or a JSON value."""
    if isinstance(thing, KVEntry):
        # Cut the key and the value each, so a long key leaves the value in view.
        key, value = _cut(_json(thing.key), KEY_LIMIT), describe(thing.value)
        ttl = "" if thing.ttl is None else f', "ttl": {thing.ttl}'
        return f'{{"key": {key}, "value": {value}, "revision": {thing.revision}{ttl}}}'
    if isinstance(thing, Written):
        return ("created " if thing.created else "replaced ") + describe(thing.entry)
    if isinstance(thing, KVClientError):
        return _cut(f"{type(thing).__name__} ({thing})", DETAIL_LIMIT)
    if isinstance(thing, type) and issubclass(thing, KVClientError):
        return thing.__name__
    return _cut(_json(thing), DETAIL_LIMIT)


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}...({len(text) - limit} more characters)"


def _json(value: object) -> str:
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)
