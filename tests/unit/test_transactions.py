"""The domain's one transaction rule, `Transaction.decide`, and `Outcome.at`, as pure functions."""

from __future__ import annotations

import pytest

from kv.domain import (
    Compare,
    Decision,
    Entry,
    KeyNotFound,
    PreconditionFailed,
    Read,
    Transaction,
    Write,
)
from kv.domain.model import Condition, encode_value


def put(key: str, value: object, ttl: int | None = None) -> Write:
    return Write.put(key, value, encode_value(value), ttl=ttl)  # type: ignore[arg-type]


NOW = 1000.0


def test_a_single_write_keeps_its_own_rules() -> None:
    with pytest.raises(KeyNotFound):
        Transaction.single(Write.delete("k")).decide({"k": None}, 5, NOW)
    stored = Entry("k", 1, 3)
    with pytest.raises(PreconditionFailed):
        Transaction.single(Write.put("k", 2, b"2", Condition.at_revision(2))).decide(
            {"k": stored}, 5, NOW
        )
    same = Transaction.single(put("k", 1)).decide({"k": stored}, 5, NOW)
    assert not same.changed
    assert same.revision == 5
    assert same.results[0].revision == 3


def test_the_branch_and_every_write_at_the_next_revision() -> None:
    txn = Transaction(
        (Compare("a", revision=3), Compare("b", exists=False)),
        (put("a", 2), Read("a"), Write.delete("c", missing_ok=True), put("b", "x", ttl=10)),
        (Read("a"),),
    )
    current = {"a": Entry("a", 1, 3), "b": None, "c": None}
    outcome = txn.decide(current, 7, NOW)
    assert outcome.succeeded
    assert outcome.changed
    assert outcome.revision == 8
    written, read, deleted, timed = outcome.results
    assert written.entry == Entry("a", 2, 8)
    assert read.entry == written.entry
    assert deleted.decision is Decision.UNCHANGED
    assert timed.entry == Entry("b", "x", 8, NOW + 10)
    assert [w.key for w, _ in outcome.changes()] == ["a", "b"]
    refused = txn.decide({**current, "a": Entry("a", 1, 4)}, 7, NOW)
    assert not refused.succeeded
    assert not refused.changed
    assert refused.results[0].entry == Entry("a", 1, 4)


def test_keys_are_every_key_touched_once_in_order() -> None:
    txn = Transaction((Compare("b", exists=True),), (put("a", 1), Read("b")), (Read("c"),))
    assert txn.keys == ("b", "a", "c")


def test_outcome_at_moves_what_the_transaction_made_and_nothing_else() -> None:
    txn = Transaction(success=(Read("old"), put("a", 1), Read("a")))
    outcome = txn.decide({"old": Entry("old", 0, 8), "a": None}, 8, NOW).at(20)
    seen_before, written, seen_after = outcome.results
    assert outcome.revision == 20
    assert seen_before.entry == Entry("old", 0, 8)  # read, not made: kept
    assert written.entry == Entry("a", 1, 20)
    assert written.revision == 20
    assert seen_after.entry == Entry("a", 1, 20)
