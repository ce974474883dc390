"""`direct_init`: the quicker constructor keeps every property of a frozen dataclass."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from kv.domain import Change, Entry, Outcome, Transaction, Write, Written
from kv.domain.frozen import direct_init


def test_entries_keep_equality_hashing_defaults_and_immutability() -> None:
    entry = Entry("k", "v", 3)
    assert entry == Entry(key="k", value="v", revision=3, expires_at=None)
    assert hash(entry) == hash(Entry("k", "v", 3, None))
    assert entry != Entry("k", "v", 4)
    assert entry.expires_at is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.revision = 4  # type: ignore[misc]
    assert dataclasses.replace(entry, value=None) == Entry("k", None, 3)
    assert repr(entry) == "Entry(key='k', value='v', revision=3, expires_at=None)"


def test_the_signature_is_the_dataclass_one() -> None:
    for cls in (Entry, Write, Written, Change, Outcome, Transaction):
        params = list(inspect.signature(cls).parameters.values())
        fields = dataclasses.fields(cls)
        assert [p.name for p in params] == [f.name for f in fields]
        for param, field in zip(params, fields, strict=True):
            missing = field.default is dataclasses.MISSING
            assert param.default is (inspect.Parameter.empty if missing else field.default)
    with pytest.raises(TypeError):
        Entry("k", "v")  # type: ignore[call-arg]


def test_changes_are_still_compared_by_identity() -> None:
    entry = Entry("k", "v", 1)
    assert Change.put(entry, b'"v"') != Change.put(entry, b'"v"')


def test_only_plain_frozen_slotted_dataclasses_are_accepted() -> None:
    @dataclasses.dataclass(frozen=True)
    class NoSlots:
        x: int

    @dataclasses.dataclass(frozen=True, slots=True)
    class PostInit:
        x: int

        def __post_init__(self) -> None:
            pass

    @dataclasses.dataclass(frozen=True, slots=True)
    class Factory:
        x: list[int] = dataclasses.field(default_factory=list)

    for cls in (NoSlots, PostInit, Factory):
        with pytest.raises(TypeError):
            direct_init(cls)
