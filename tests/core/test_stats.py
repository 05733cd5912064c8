"""Intervals that know their items are not independent (issue 38): the group bootstrap."""

from __future__ import annotations

import math

import pytest

from latentspace.core.stats import group_bootstrap, tally, wilson


def planted(groups: int = 40, size: int = 16) -> list[tuple[str, bool]]:
    """Half the groups answered right, every permutation of a group alike (MNNS's structure)."""
    return [(f"g{g}", g % 2 == 0) for g in range(groups) for _ in range(size)]


def test_whole_groups_widen_the_interval_by_the_square_root_of_the_group_size():
    run = planted()
    lo, hi = group_bootstrap([tally(run)], draws=4000)
    item_lo, item_hi = group_bootstrap([tally((f"item {i}", c) for i, (_, c) in enumerate(run))], draws=4000)
    # by hand: p = 0.5; items: sd sqrt(.25 / 640) = 0.0198; groups answered alike: sd sqrt(.25 / 40) = 0.079
    assert (hi - lo) / (item_hi - item_lo) == pytest.approx(math.sqrt(16), rel=0.15)
    assert hi - lo == pytest.approx(2 * 1.96 * math.sqrt(0.25 / 40), rel=0.15)
    w_lo, w_hi = wilson(320, 640)  # the item-level bootstrap agrees with Wilson's interval
    assert item_hi - item_lo == pytest.approx(w_hi - w_lo, rel=0.15)


def test_seeds_that_disagree_widen_the_interval():
    perfect, half = [(f"g{g}", True) for g in range(40)], planted(40, 1)
    one = group_bootstrap([tally(perfect), tally(perfect)])
    two = group_bootstrap([tally(perfect), tally(half)])
    assert one == (1.0, 1.0) and two[0] <= 0.55 and two[1] == 1.0


def test_the_same_answers_give_the_same_interval():
    assert group_bootstrap([tally(planted())], seed=3) == group_bootstrap([tally(planted())], seed=3)


@pytest.mark.parametrize("runs, draws", [([], 10), ([{}], 10), ([{"a": [1, 1]}], 0)])
def test_an_empty_bootstrap_is_refused(runs, draws):
    with pytest.raises(ValueError):
        group_bootstrap(runs, draws=draws)
