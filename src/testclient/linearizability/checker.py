"""The check of a whole history: each key on its own, then what one key cannot see.

Linearizability is P-compositional: a history is linearizable exactly when
the sub-history of each key is (Herlihy & Wing's locality, used by
Porcupine's partitioning). So each key is searched alone, which keeps the
search small. Revisions are store-wide, though, and one key's model cannot
see another key's revisions; `revision_order` checks that across keys.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from testclient.linearizability.history import Kind, Operation, Outcome, value_text
from testclient.linearizability.model import ABSENT, ANY
from testclient.linearizability.search import PreparedSteps, linearizable


@dataclass(frozen=True, slots=True)
class Violation:
    """A part of the history that no order explains, small enough for a person to read."""

    reason: str
    operations: tuple[Operation, ...]
    ignored: frozenset[int] = frozenset()
    """Indexes into `operations` of those whose results the window could not use
    (they straddle its edges): shown for context, counted as possibly applied."""
    scope: str = "key"
    """"key": one key's history; "revisions": the store-wide revision order."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """What was checked, and what no order explains (nothing: linearizable)."""

    operations: int
    keys: int
    clients: int
    unknown: int
    violations: tuple[Violation, ...]

    @property
    def linearizable(self) -> bool:
        return not self.violations


def check(history: Sequence[Operation]) -> Verdict:
    """Decide whether `history` is linearizable; every key starts absent."""
    by_key: dict[str, list[Operation]] = defaultdict(list)
    for op in history:
        # A read whose answer never came constrains nothing: it is left out.
        if not (op.kind is Kind.GET and op.pending):
            by_key[op.key].append(op)
    violations = [
        minimal_window(key, ops)
        for key, ops in by_key.items()
        if not linearizable(ops, frozenset([ABSENT]))
    ]
    violations.extend(revision_order(history))
    return Verdict(
        operations=len(history),
        keys=len({op.key for op in history}),
        clients=len({op.client for op in history}),
        unknown=sum(op.pending for op in history),
        violations=tuple(violations),
    )


def _window(ops: Sequence[Operation], start: float, end: float) -> tuple[list[Operation], set[int]]:
    """The operations of `ops` that the window [start, end] can use, as a history of its own.

    Done before `start`: left out. Running across `start` or `end`: their
    results cannot be used (a read is left out, a write counts as possibly
    applied). Begun after `end`: left out.
    """
    window: list[Operation] = []
    ignored: set[int] = set()
    for op in ops:
        if op.completed < start or op.invoked > end:
            continue
        straddles = op.invoked < start or op.completed > end
        if straddles and op.kind is Kind.GET:
            continue
        if straddles and not op.pending:
            ignored.add(len(window))
            window.append(op.unknown())
        else:
            window.append(op)
    return window, ignored


def _fails(ops: Sequence[Operation], start: float, end: float, prepared: PreparedSteps) -> bool:
    window, _ = _window(ops, start, end)
    initial = frozenset([ABSENT if start == -math.inf else ANY])
    return not linearizable(window, initial, prepared)


def minimal_window(key: str, ops: Sequence[Operation]) -> Violation:
    """A short stretch of a key's non-linearizable history that is not linearizable alone.

    First the earliest end: the shortest prefix (up to a completion time)
    that fails. Then the latest start for that end: everything done before it
    is dropped and the key may hold anything there (`ANY`), so the window
    fails on its own and proves the whole history wrong. Both searches are
    binary: a window that fails still fails when it grows.
    """
    prepared: PreparedSteps = {}
    ends = sorted({op.completed for op in ops if not op.pending})
    lo, hi = 0, len(ends) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if _fails(ops, -math.inf, ends[mid], prepared):
            hi = mid
        else:
            lo = mid + 1
    end = ends[lo] if ends else math.inf
    starts = [-math.inf, *sorted({op.invoked for op in ops if op.invoked <= end})]
    # Galloping back from the end: small windows are cheap to search whether
    # they fail or not, while a long window that fails is searched exhaustively.
    lo, hi, back = 0, len(starts) - 1, 1
    while hi - back > 0 and not _fails(ops, starts[hi - back], end, prepared):
        hi, back = hi - back - 1, back * 2
    lo = max(hi - back, 0)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _fails(ops, starts[mid], end, prepared):
            lo = mid
        else:
            hi = mid - 1
    window, ignored = _window(ops, starts[lo], end)
    originals = [op for op in ops if op.completed >= starts[lo] and op.invoked <= end]
    shown = [next(o for o in originals if _same_call(o, w)) for w in window]
    return Violation(
        f"key {key!r}: no order of these {len(window)} operations explains their results",
        tuple(shown),
        frozenset(ignored),
    )


def _same_call(original: Operation, window_op: Operation) -> bool:
    return (original.client, original.invoked) == (window_op.client, window_op.invoked)


def fresh_writes(history: Sequence[Operation]) -> list[Operation]:
    """The writes that certainly made a new revision: creates, and puts of a value no other
    operation writes to that key (a put of the value stored changes nothing)."""
    written = Counter(
        (op.key, value_text(op.value)) for op in history if op.kind in (Kind.PUT, Kind.CREATE)
    )
    return [
        op
        for op in history
        if op.outcome is Outcome.OK
        and (
            op.kind is Kind.CREATE
            or (op.kind is Kind.PUT and written[(op.key, value_text(op.value))] == 1)
        )
    ]


def revision_order(history: Sequence[Operation]) -> list[Violation]:
    """What the per-key checks cannot see: revisions are one counter for the whole store.

    A write that made a new revision got a revision no other write got, and
    above every revision any operation (on any key) had seen before the write
    was invoked: the store's counter had passed that revision already.
    """
    violations: list[Violation] = []
    writes = fresh_writes(history)
    by_revision: dict[int, Operation] = {}
    for op in writes:
        assert op.observed is not None
        other = by_revision.setdefault(op.observed.revision, op)
        if other is not op:
            violations.append(
                Violation(
                    f"two writes got revision {op.observed.revision}",
                    (other, op),
                    scope="revisions",
                )
            )
    seen = sorted((op for op in history if op.observed is not None), key=lambda op: op.completed)
    completions = [op.completed for op in seen]
    # highest[i]: the operation with the highest revision among seen[: i + 1].
    highest: list[Operation] = []
    for op in seen:
        best = highest[-1] if highest else op
        assert op.observed is not None
        assert best.observed is not None
        highest.append(op if op.observed.revision > best.observed.revision else best)
    for write in sorted(writes, key=lambda op: op.invoked):
        done_before = bisect_left(completions, write.invoked)
        if done_before == 0:
            continue
        earlier = highest[done_before - 1]
        assert earlier.observed is not None
        assert write.observed is not None
        if earlier.observed.revision >= write.observed.revision:
            violations.append(
                Violation(
                    f"revision went back: a write invoked after revision "
                    f"{earlier.observed.revision} was seen got revision "
                    f"{write.observed.revision}",
                    (earlier, write),
                    scope="revisions",
                )
            )
    return violations
