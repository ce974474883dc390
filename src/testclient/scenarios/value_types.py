"""value_types: every kind of JSON value round-trips exactly."""

from __future__ import annotations

from typing import Any

from testclient.checks import attempt
from testclient.client import KVEntry
from testclient.scenarios.context import ScenarioContext


def _nested(depth: int) -> list[Any]:
    value: list[Any] = ["bottom"]
    for _ in range(depth - 1):
        value = [value]
    return value


# Numbers stay within what every JSON implementation (and protobuf's Value, a
# double) carries exactly: integers up to 2**53.
VALUES: dict[str, Any] = {
    "string": "hello",
    "empty string": "",
    "unicode string": "héllo wörld, 世界, 🔑",
    "string with escapes": 'quote " backslash \\ newline \n tab \t nul \u0000 end',
    "zero": 0,
    "negative integer": -42,
    "largest exact integer": 2**53,
    "fraction": 3.25,
    "small float": 1.5e-7,
    "true": True,
    "false": False,
    "null": None,
    "empty object": {},
    "empty array": [],
    "object with null and empty-named members": {"a": None, "": "empty name", "b": {"c": None}},
    "array of every type": ["s", 1, 2.5, True, False, None, {"k": "v"}, [1]],
    "array nested 32 deep": _nested(32),
    "long string (256 KiB)": "x" * 256 * 1024,
}


async def value_types(run: ScenarioContext) -> None:
    client, checks = run.client, run.checks
    keys = {label: run.key(f"type-{number}") for number, label in enumerate(VALUES)}
    # Everything is written before anything is read, so a value that leaks
    # into another key shows too.
    for label, value in VALUES.items():
        await client.put(keys[label], value)
    for label, value in VALUES.items():
        read = await attempt(client.get(keys[label]))
        observed = read.value if isinstance(read, KVEntry) else read
        checks.expect_equal(f"{label} round-trips", value, observed)
