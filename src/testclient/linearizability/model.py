"""The sequential specification of one key: what each operation may return, and the state after.

A state is what the key holds: absent, or a value at a revision. Revisions
are store-wide, so a key's model cannot predict the revision a write gets;
it takes it from the write's result and checks only what one key can know:
a new write's revision exceeds every revision the key had before (`floor`),
and a read returns exactly the revision of the write it sees.

The model is nondeterministic where the history is: a write with an unknown
outcome leads to two states (applied, not applied), and the revision an
unknown write got is unknown (`revision` None) until a later read reveals it.
The checker steps a *set* of states (the power-set construction, as
Porcupine's NondeterministicModel does), so one search covers every choice.

`ANY` stands for every possible state: a window of the history cut out of
the middle starts there. Steps from it keep only what the operation's result
says, so they admit more than the truth (never less): a window that fails
from `ANY` fails from every state, and so proves the whole history wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from testclient.linearizability.history import Kind, Operation, Outcome, value_text


class State(NamedTuple):
    """One key's content. `present` None: `ANY`. `revision` None: not known yet."""

    present: bool | None
    value: str | None
    revision: int | None
    floor: int
    """Every later write of this key gets a revision above this (the known revision, if any)."""


ABSENT = State(False, None, None, 0)
"""A key never written: where every key of a fresh history starts."""
ANY = State(None, None, None, 0)

States = frozenset[State]


@dataclass(frozen=True, slots=True)
class Step:
    """An operation prepared for stepping: JSON values as canonical text, once."""

    kind: Kind
    outcome: Outcome
    written: str | None
    expected: int | None
    seen: str | None
    seen_revision: int
    created: bool | None

    @classmethod
    def of(cls, op: Operation) -> Step:
        seen = op.observed
        return cls(
            op.kind,
            op.outcome,
            value_text(op.value) if op.kind in (Kind.PUT, Kind.CREATE) else None,
            op.expected_revision,
            None if seen is None else value_text(seen.value),
            0 if seen is None else seen.revision,
            None if seen is None else seen.created,
        )


def step(states: States, op: Step) -> States:
    """Every state reachable by `op` from one of `states` with `op`'s result; empty: none."""
    successors: set[State] = set()
    for state in states:
        successors.update(_step(state, op))
    return frozenset(successors)


def _step(s: State, op: Step) -> list[State]:
    if op.kind is Kind.GET:
        return _get(s, op)
    if op.kind is Kind.CREATE:
        return _create(s, op)
    if op.kind is Kind.PUT:
        return _put(s, op)
    return _delete(s, op)


def _seen_entry(s: State, op: Step) -> State | None:
    """`s` if it holds what `op` saw (value and revision), with an unknown revision learnt."""
    if not s.present or s.value != op.seen:
        return None
    if s.revision is None:
        if op.seen_revision <= s.floor:
            return None
        return State(True, s.value, op.seen_revision, op.seen_revision)
    return s if s.revision == op.seen_revision else None


def _matches(s: State, expected: int) -> State | None:
    """`s` if it is present at revision `expected` (an unknown revision taken to be it)."""
    if not s.present:
        return None
    if s.revision is None:
        return State(True, s.value, expected, expected) if expected > s.floor else None
    return s if s.revision == expected else None


def _written(op: Step, revision: int) -> State:
    return State(True, op.written, revision, revision)


def _get(s: State, op: Step) -> list[State]:
    if op.outcome is Outcome.OK:
        if s.present is None:
            return [State(True, op.seen, op.seen_revision, op.seen_revision)]
        seen = _seen_entry(s, op)
        return [] if seen is None else [seen]
    if op.outcome is Outcome.NOT_FOUND:
        return [ABSENT] if s.present is None else [s] if s.present is False else []
    return []


def _create(s: State, op: Step) -> list[State]:
    if op.outcome is Outcome.OK:
        if op.seen != op.written or s.present or op.seen_revision <= s.floor:
            return []
        return [_written(op, op.seen_revision)]
    if op.outcome is Outcome.EXISTS:
        return [s] if s.present is not False else []
    if op.outcome is Outcome.UNKNOWN:
        if s.present is False:
            return [s, State(True, op.written, None, s.floor)]
        if s.present is None:
            return [s, State(True, op.written, None, 0)]
        return [s]
    return []


def _put(s: State, op: Step) -> list[State]:
    if op.outcome is Outcome.OK:
        return _put_ok(s, op)
    if op.outcome is Outcome.PRECONDITION_FAILED:
        if op.expected is None:
            return []
        # An unknown revision cannot be narrowed to "not `expected`": kept as is.
        return [] if s.present and s.revision == op.expected else [s]
    if op.outcome is Outcome.UNKNOWN:
        if s.present is None:
            return [s, State(True, op.written, None, 0)]
        if op.expected is not None and (_matches(s, op.expected) is None):
            return [s]
        if s.present and s.value == op.written:
            return [s]  # a put of the value stored changes nothing
        return [s, State(True, op.written, None, s.floor)]
    return []


def _put_ok(s: State, op: Step) -> list[State]:
    if op.seen != op.written:
        return []
    revision = op.seen_revision
    if s.present is None:
        if op.expected is not None and (op.created or revision < op.expected):
            return []
        return [_written(op, revision)]
    if op.expected is not None:
        matched = _matches(s, op.expected)
        if matched is None:
            return []
        s = matched
    if not s.present:
        return [_written(op, revision)] if op.created and revision > s.floor else []
    if op.created:
        return []
    if s.value == op.written:
        # Unchanged: the put answers with the entry as it is, its revision kept.
        if s.revision is None:
            return [_written(op, revision)] if revision > s.floor else []
        return [s] if revision == s.revision else []
    return [_written(op, revision)] if revision > s.floor else []


def _delete(s: State, op: Step) -> list[State]:
    if op.outcome is Outcome.OK:
        if op.expected is not None and op.seen_revision != op.expected:
            return []
        if s.present is None:
            return [State(False, None, None, op.seen_revision)]
        seen = _seen_entry(s, op)
        return [] if seen is None else [State(False, None, None, op.seen_revision)]
    if op.outcome is Outcome.NOT_FOUND:
        return [ABSENT] if s.present is None else [s] if s.present is False else []
    if op.outcome is Outcome.PRECONDITION_FAILED:
        if op.expected is None:
            return []
        return [] if s.present and s.revision == op.expected else [s]
    if op.outcome is Outcome.UNKNOWN:
        if s.present is None:
            return [s, ABSENT]
        if not s.present or (op.expected is not None and _matches(s, op.expected) is None):
            return [s]
        return [s, State(False, None, None, s.floor)]
    return []
