"""SortedMap against a dict: the same answers through every split and merge of its chunks."""

from __future__ import annotations

import random

import pytest

from kv.adapters.sorted_map import SortedMap

OPERATIONS = 3000


def check_same(sorted_map: SortedMap[int], model: dict[str, int]) -> None:
    assert len(sorted_map) == len(model)
    assert list(sorted_map.items()) == sorted(model.items())


@pytest.mark.parametrize("seed", range(6))
def test_random_sets_pops_and_ranges_answer_as_a_sorted_dict_would(seed: int) -> None:
    chance = random.Random(seed)
    # Chunks of 4 (2 to 8 keys): a few thousand operations split and merge them many times.
    sorted_map: SortedMap[int] = SortedMap(chunk=4)
    model: dict[str, int] = {}
    keys = [f"k{n:03}" for n in range(chance.choice([5, 60, 400]))]
    for step in range(OPERATIONS):
        key = chance.choice(keys)
        roll = chance.random()
        if roll < 0.55:
            sorted_map.set(key, step)
            model[key] = step
        elif roll < 0.9:
            assert sorted_map.pop(key) == model.pop(key, None)
        else:
            inclusive = chance.random() < 0.5
            expected = [
                (k, v) for k, v in sorted(model.items()) if k > key or (inclusive and k == key)
            ]
            assert list(sorted_map.items(key, inclusive=inclusive)) == expected
        assert sorted_map.get(key) == model.get(key)
        assert (key in sorted_map) == (key in model)
        if step % 100 == 0:
            check_same(sorted_map, model)
    check_same(sorted_map, model)
    for key in list(model):
        assert sorted_map.pop(key) == model.pop(key)
    check_same(sorted_map, model)
    assert list(sorted_map.items("k")) == []


def test_keys_in_ascending_order_and_a_range_from_between_keys() -> None:
    sorted_map: SortedMap[int] = SortedMap(chunk=2)
    for n in range(0, 40, 2):
        sorted_map.set(f"{n:02}", n)
    assert [k for k, _ in sorted_map.items("13")] == [f"{n:02}" for n in range(14, 40, 2)]
    assert [k for k, _ in sorted_map.items("14", inclusive=False)][:1] == ["16"]
    assert list(sorted_map.items("99")) == []
    assert sorted_map.get("13") is None
    assert sorted_map.pop("13") is None


def test_initial_pairs_in_any_order_come_out_sorted() -> None:
    pairs = [(f"{n:03}", n) for n in range(100)]
    random.Random(1).shuffle(pairs)
    sorted_map = SortedMap(pairs, chunk=8)
    assert list(sorted_map.items()) == sorted(pairs)
    sorted_map.set("050x", -1)
    assert sorted_map.get("050x") == -1
    assert [k for k, _ in sorted_map.items("050", inclusive=False)][:2] == ["050x", "051"]
