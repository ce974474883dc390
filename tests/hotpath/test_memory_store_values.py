"""InMemoryStore keeps values packed as JSON: every JSON value must come back exactly."""

from __future__ import annotations

import pytest

from kv.adapters.memory import InMemoryStore
from kv.domain import Change, Entry, JsonValue

VALUES: list[JsonValue] = [
    "value-00000000000000000000000001",
    "",
    'é\u2028\x00"\\',
    0,
    -1,
    2**63 - 1,
    2**64,
    -(10**40),
    1.0,
    -0.0,
    1e-7,
    0.1,
    1.7976931348623157e308,
    5e-324,
    True,
    False,
    None,
    [],
    {},
    {"b": [1, {"a": None}], "a": "x", "n": 12345678901234567890123},
]


@pytest.mark.parametrize("value", VALUES, ids=repr)
async def test_a_value_comes_back_equal_and_of_the_same_type(value: JsonValue) -> None:
    store = InMemoryStore()
    await store.commit(Change("k", Entry("k", value, 7), 7))
    entry = await store.get("k")
    assert entry == Entry("k", value, 7)
    assert repr(entry.value) == repr(value)  # 1 and 1.0 and True are == in Python; not here
