"""Every transport's error table has a row for every domain error; the look-up picks the closest."""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping

import pytest

from kv.domain import KVError
from kv.transports import TRANSPORTS
from kv.transports.error_tables import closest_row


def domain_errors(base: type[KVError] = KVError) -> Iterator[type[KVError]]:
    """Every class below `base`, however deep."""
    for cls in base.__subclasses__():
        yield cls
        yield from domain_errors(cls)


def error_table(transport: str) -> Mapping[type[BaseException], object]:
    """The transport's one table of domain errors: `DOMAIN_ERRORS` in its package's `errors`."""
    table: Mapping[type[BaseException], object] = importlib.import_module(
        f"{TRANSPORTS[transport].package}.errors"
    ).DOMAIN_ERRORS
    return table


@pytest.mark.parametrize("transport", tuple(TRANSPORTS))
def test_every_domain_error_has_a_row(transport: str) -> None:
    table = error_table(transport)
    missing = [cls.__name__ for cls in domain_errors() if cls not in table]
    assert not missing, f"{transport} has no row for {', '.join(missing)}"
    assert KVError not in table, "the base class is no answer: an unmapped error is a bug"


def test_the_walk_finds_every_error_of_the_domain() -> None:
    """The walk is the test's premise: it sees the errors the domain's docstring draws."""
    names = {cls.__name__ for cls in domain_errors()}
    assert {"InvalidRequest", "KeyNotFound", "OutcomeUnknown", "TooManyWatches"} <= names


class Parent(Exception):
    pass


class Child(Parent):
    pass


class Grandchild(Child):
    pass


def test_the_most_specific_mapped_class_wins() -> None:
    table: dict[type[BaseException], str] = {Parent: "parent", Child: "child"}
    assert closest_row(table, Grandchild()) == "child"
    assert closest_row(table, Child()) == "child"
    assert closest_row(table, Parent()) == "parent"
    assert closest_row(table, ValueError()) is None
