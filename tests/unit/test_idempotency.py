"""The idempotency rule and its values: keys, fingerprints, records as bytes, the expiry index."""

from __future__ import annotations

import pytest

from kv.adapters.records import IdempotencyRecords
from kv.domain import Entry, IdempotencyKeyReused, InvalidRequest, Read, Transaction, Write
from kv.domain.idempotency import Claim, IdempotencyRecord, fingerprint, validate_idempotency_key


@pytest.mark.parametrize("key", ["", "x" * 256, "caf\u00e9", "tab\there", "new\nline", "\x7f"])
def test_a_key_is_1_to_255_printable_ascii_characters(key: str) -> None:
    with pytest.raises(InvalidRequest):
        validate_idempotency_key(key)


def test_valid_keys_are_kept_as_sent() -> None:
    for key in ["a", " ", "~" * 255, "order-1234 retry"]:
        assert validate_idempotency_key(key) == key


def test_a_fingerprint_tells_where_each_part_ends() -> None:
    assert fingerprint("PUT", "ab", b"c") != fingerprint("PUT", "a", b"bc")
    assert fingerprint("PUT", "a", b"1") != fingerprint("POST", "a", b"1")
    assert fingerprint("PUT", "a", b"1") == fingerprint("PUT", "a", b"1")


def transaction(claim: Claim) -> Transaction:
    return Transaction(
        success=(
            Write.put("a", {"n": [1, None]}, b'{"n":[1,null]}', ttl=60),
            Read("a"),
            Write.delete("b"),
            Read("none"),
        ),
        claim=claim,
    )


def test_the_first_request_is_carried_out_and_recorded_then_replayed() -> None:
    claim = Claim("\nk", "fp", ttl=100)
    current = {"a": None, "b": Entry("b", "old", 3), "none": None}
    first = transaction(claim).decide(current, 7, 1000.0)
    assert first.changed
    assert not first.replayed
    assert first.record is not None
    assert first.record.expires_at == 1100.0
    stored = IdempotencyRecord.decode(first.record.key, first.record.encode())
    assert stored.outcome == first.record.outcome  # the bytes keep the whole outcome
    # The keys as they are now (b gone): a replay decides nothing on them.
    again = transaction(claim).decide({"a": None, "b": None, "none": None}, 9, 1001.0, stored)
    assert again.replayed
    assert not again.changed
    assert again.record is None
    assert list(again.changes()) == []
    assert (again.results, again.revision, again.succeeded) == (
        first.results,
        first.revision,
        first.succeeded,
    )


def test_another_request_with_the_key_is_refused_and_an_expired_record_is_none() -> None:
    current = {"a": None, "b": Entry("b", "old", 3), "none": None}
    first = transaction(Claim("k", "fp")).decide(current, 3, 0.0)
    assert first.record is not None
    with pytest.raises(IdempotencyKeyReused):
        transaction(Claim("k", "other")).decide(current, 1, 1.0, first.record)
    later = first.record.expires_at + 1
    anew = transaction(Claim("k", "other")).decide(current, 1, later, first.record)
    assert not anew.replayed
    assert anew.changed


def test_a_record_read_back_at_its_commit_revision_moves_its_changes_there() -> None:
    current = {"a": None, "b": Entry("b", "old", 3), "none": None}
    record = transaction(Claim("k", "fp")).decide(current, 7, 0.0).record
    assert record is not None
    moved = record.written_at(42).outcome
    assert moved.revision == 42
    assert moved.results[0].entry is not None
    assert moved.results[0].entry.revision == 42
    assert moved.results[2].previous == Entry("b", "old", 3)  # not this transaction's


def test_expired_records_are_found_a_bounded_number_at_a_time_soonest_first() -> None:
    outcome = Transaction(success=(Read("a"),)).decide({"a": None}, 0, 0.0)
    records = IdempotencyRecords(
        IdempotencyRecord(f"k{n}", "fp", outcome, float(1000 - n)) for n in range(1000)
    )
    assert records.due(500.0, 10) == [f"k{n}" for n in range(999, 989, -1)]
    assert records.get("k999", 500.0) is None  # expired: none, removed or not
    assert records.get("k0", 500.0) is not None
    for key in records.due(2000.0, 1000):
        records.remove(key)
    assert len(records) == 0
    assert records.next_due() is None
