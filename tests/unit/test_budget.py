"""ByteBudget: what fits, the one holder always let in, and giving back."""

from __future__ import annotations

import pytest

from kv.transports.budget import ByteBudget


def test_what_does_not_fit_is_refused_and_what_is_given_back_frees_room() -> None:
    budget = ByteBudget(100, "answers not yet sent")
    assert budget.take(60)
    assert not budget.take(50)
    assert budget.take(40)
    assert budget.held == 100
    budget.give_back(60)
    assert budget.take(50)
    assert budget.peak == 100
    assert "90 bytes of answers not yet sent" in budget.refusal()


def test_one_holder_is_always_let_in_when_nothing_is_held() -> None:
    budget = ByteBudget(10, "requests being received")
    assert budget.take(1000)
    assert not budget.take(1)
    budget.give_back(1000)
    assert budget.empty.is_set()


def test_bytes_already_in_memory_are_held_past_the_limit() -> None:
    budget = ByteBudget(10, "requests being received")
    budget.hold(50)
    assert not budget.fits(1)
    assert not budget.empty.is_set()
    budget.give_back(50)
    with pytest.raises(AssertionError):
        budget.give_back(1)
