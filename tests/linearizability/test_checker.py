"""The checker rejects histories no order explains, and accepts the tricky ones some order does.

Each history is written out by hand: `(client, start, end)` is the interval
of one call, in arbitrary time units.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from bench.linearizability import simulated_history, with_stale_read
from testclient.linearizability import (
    Kind,
    Observed,
    Operation,
    Outcome,
    check,
    describe_verdict,
)

OK = Outcome.OK
UNKNOWN = Outcome.UNKNOWN
INF = math.inf


def put(
    client: int,
    start: float,
    end: float,
    value: Any,
    revision: int | None = None,
    *,
    created: bool = False,
    key: str = "k",
    expected: int | None = None,
    outcome: Outcome = OK,
) -> Operation:
    seen = Observed(value, revision, created) if outcome is OK and revision else None
    return Operation(client, key, Kind.PUT, start, end, outcome, value, expected, seen)


def create(
    client: int,
    start: float,
    end: float,
    value: Any,
    revision: int | None = None,
    *,
    key: str = "k",
    outcome: Outcome = OK,
) -> Operation:
    seen = Observed(value, revision) if outcome is OK and revision else None
    return Operation(client, key, Kind.CREATE, start, end, outcome, value, None, seen)


def get(
    client: int,
    start: float,
    end: float,
    value: Any = None,
    revision: int | None = None,
    *,
    key: str = "k",
    outcome: Outcome = OK,
) -> Operation:
    seen = Observed(value, revision) if outcome is OK else None
    return Operation(client, key, Kind.GET, start, end, outcome, observed=seen)


def delete(
    client: int,
    start: float,
    end: float,
    value: Any = None,
    revision: int | None = None,
    *,
    key: str = "k",
    expected: int | None = None,
    outcome: Outcome = OK,
) -> Operation:
    seen = Observed(value, revision) if outcome is OK else None
    return Operation(
        client, key, Kind.DELETE, start, end, outcome, expected_revision=expected, observed=seen
    )


def unknown(op: Operation) -> Operation:
    return op.unknown()


NOT_LINEARIZABLE = {
    "stale read": [
        put(0, 0, 1, "a", 1, created=True),
        put(0, 2, 3, "b", 2),
        get(1, 4, 5, "a", 1),
    ],
    "lost update": [
        put(0, 0, 1, "a", 1, created=True),
        put(1, 2, 3, "b", 2, expected=1),
        put(2, 2, 3, "c", 3, expected=1),
    ],
    "revision going back on a key": [
        put(0, 0, 1, "a", 5, created=True),
        put(0, 2, 3, "b", 4),
    ],
    "revision going back across keys": [
        put(0, 0, 1, "a", 5, created=True, key="x"),
        put(1, 2, 3, "b", 4, created=True, key="y"),
    ],
    "two writes with one revision": [
        put(0, 0, 1, "a", 5, created=True, key="x"),
        put(1, 0, 1, "b", 5, created=True, key="y"),
    ],
    "a write seen then unseen": [
        put(0, 0, 3, "a", 1, created=True),
        get(1, 1, 2, "a", 1),
        get(2, 2.5, 4, outcome=Outcome.NOT_FOUND),
    ],
    "a read with the right value and the wrong revision": [
        put(0, 0, 1, "a", 1, created=True),
        get(1, 2, 3, "a", 2),
    ],
    "a create that found the key absent after it was written": [
        create(0, 0, 1, "a", 1),
        create(1, 2, 3, "b", 2),
    ],
    "a deleted entry read again": [
        put(0, 0, 1, "a", 1, created=True),
        delete(0, 2, 3, "a", 1),
        get(1, 4, 5, "a", 1),
    ],
    "a put that says it created an existing key": [
        put(0, 0, 1, "a", 1, created=True),
        put(1, 2, 3, "b", 2, created=True),
    ],
    "a conditional put that failed while its revision held": [
        put(0, 0, 1, "a", 1, created=True),
        put(1, 2, 3, "b", expected=1, outcome=Outcome.PRECONDITION_FAILED),
    ],
    "a value read that no one wrote": [
        put(0, 0, INF, "a", outcome=UNKNOWN),
        get(1, 2, 3, "z", 4),
    ],
}

LINEARIZABLE = {
    "overlapping writes read in one order": [
        put(0, 0, 10, "a", 1, created=True),
        put(1, 0, 10, "b", 2),
        get(2, 11, 12, "b", 2),
    ],
    "overlapping writes read in the other order": [
        put(0, 0, 10, "a", 2),
        put(1, 0, 10, "b", 1, created=True),
        get(2, 11, 12, "a", 2),
    ],
    "reads during a write see old then new": [
        put(0, 0, 1, "a", 1, created=True),
        put(1, 2, 10, "b", 2),
        get(2, 3, 4, "a", 1),
        get(3, 5, 6, "b", 2),
        get(2, 7, 8, "b", 2),
    ],
    "a read before its write returned": [
        put(0, 0, 10, "a", 1, created=True),
        get(1, 1, 2, "a", 1),
    ],
    "a timed-out write that took effect": [
        put(0, 0, INF, "a", outcome=UNKNOWN),
        get(1, 5, 6, "a", 7),
        put(1, 7, 8, "b", 9, expected=7),
    ],
    "a timed-out write that never took effect": [
        put(0, 0, INF, "a", outcome=UNKNOWN),
        get(1, 5, 6, outcome=Outcome.NOT_FOUND),
    ],
    "a timed-out write that took effect late": [
        create(0, 0, INF, "a", outcome=UNKNOWN),
        get(1, 5, 6, outcome=Outcome.NOT_FOUND),
        get(1, 7, 8, "a", 3),
    ],
    "a put of the stored value keeps its revision": [
        put(0, 0, 1, "a", 1, created=True),
        put(1, 2, 3, "a", 1),
    ],
    "create races: one wins": [
        create(0, 0, 5, "a", 1),
        create(1, 0, 5, "b", outcome=Outcome.EXISTS),
        get(2, 6, 7, "a", 1),
    ],
    "conditional writes race: one wins": [
        put(0, 0, 1, "a", 1, created=True),
        put(1, 2, 5, "b", 3, expected=1),
        put(2, 2, 5, "c", expected=1, outcome=Outcome.PRECONDITION_FAILED),
        delete(3, 2, 5, outcome=Outcome.PRECONDITION_FAILED, expected=1),
        delete(0, 6, 7, "b", 3, expected=3),
        get(1, 8, 9, outcome=Outcome.NOT_FOUND),
    ],
    "revisions skip numbers for other keys": [
        put(0, 0, 1, "a", 3, created=True, key="x"),
        put(0, 2, 3, "b", 8, created=True, key="y"),
        get(1, 4, 5, "a", 3, key="x"),
    ],
}


@pytest.mark.parametrize("name", NOT_LINEARIZABLE)
def test_rejects(name: str) -> None:
    history = NOT_LINEARIZABLE[name]
    verdict = check(history)
    assert not verdict.linearizable
    shown = {op for violation in verdict.violations for op in violation.operations}
    assert shown <= set(history)


@pytest.mark.parametrize("name", LINEARIZABLE)
def test_accepts(name: str) -> None:
    verdict = check(LINEARIZABLE[name])
    assert verdict.linearizable, describe_verdict(verdict, LINEARIZABLE[name])


def test_a_simulated_concurrent_history_is_accepted() -> None:
    history = simulated_history(3000, keys=3, clients=6, seed=7, unknown=0.01)
    verdict = check(history)
    assert verdict.linearizable, describe_verdict(verdict, history)
    assert (verdict.operations, verdict.keys, verdict.clients) == (3000, 3, 6)
    assert verdict.unknown > 0


def test_the_window_of_a_violation_is_short_and_readable() -> None:
    history = with_stale_read(simulated_history(3000, keys=3, clients=6, seed=7, unknown=0))
    verdict = check(history)
    assert len(verdict.violations) == 1
    window = verdict.violations[0].operations
    assert len(window) <= 10
    text = describe_verdict(verdict, history)
    assert "NOT linearizable" in text
    assert len(text.splitlines()) == 2 + len(window)


def test_the_window_shows_the_stale_read_and_what_it_missed() -> None:
    history = [put(0, n * 2, n * 2 + 1, f"v{n}", n + 1, created=n == 0) for n in range(50)]
    history.append(get(1, 200, 201, "v10", 11))
    text = describe_verdict(check(history), history)
    assert "v10" in text
    assert "v49" in text
    assert 'v3"' not in text  # early writes are outside the window


def test_an_unknown_read_is_left_out() -> None:
    verdict = check([put(0, 0, 1, "a", 1, created=True), unknown(get(1, 2, 3, "z", 5))])
    assert verdict.linearizable
    assert verdict.unknown == 1


def test_an_operation_cannot_end_before_it_starts() -> None:
    with pytest.raises(ValueError, match="complete before"):
        get(0, 2, 1, "a", 1)
    assert unknown(get(0, 1, 2, "a", 1)).completed == math.inf
