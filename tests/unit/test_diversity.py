"""Maximal marginal relevance, by hand-checked cases."""

from __future__ import annotations

import pytest

from dnf_core.diversity import mmr_order

NEAR_TWINS = [[1.0, 0.0], [0.99, 0.141], [0.0, 1.0]]  # 0 and 1 almost the same item


def test_trade_off_one_keeps_the_score_order() -> None:
    assert mmr_order([1.0, 0.95, 0.6], NEAR_TWINS, 1.0, 3) == [0, 1, 2]


def test_a_near_duplicate_gives_way_to_something_different() -> None:
    # Second pick: 0.5*0.95 - 0.5*0.99 < 0.5*0.6 - 0.5*0.0.
    assert mmr_order([1.0, 0.95, 0.6], NEAR_TWINS, 0.5, 3) == [0, 2, 1]
    assert mmr_order([1.0, 0.95, 0.6], NEAR_TWINS, 0.5, 2) == [0, 2]


def test_items_without_a_vector_are_similar_to_nothing_and_bad_input_is_refused() -> None:
    assert mmr_order([1.0, 0.9, 0.8], [[1.0, 0.0], [1.0, 0.0], None], 0.5, 2) == [0, 2]
    assert mmr_order([], [], 0.5, 3) == []
    with pytest.raises(ValueError, match="trade_off"):
        mmr_order([1.0], [[1.0]], 0.0, 1)
    with pytest.raises(ValueError, match="2 scores but 1 vectors"):
        mmr_order([1.0, 0.5], [[1.0]], 0.5, 1)
