"""Statistics every layer reports with (the bench, the training table, the audit)."""

from __future__ import annotations

import math
from collections.abc import Iterable


def wilson(correct: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval for a proportion (sensible at 0% and 100%, unlike p ± 2σ)."""
    if n == 0:
        return (0.0, 0.0)
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def tally(answers: Iterable[tuple[str, bool]]) -> dict[str, list[int]]:
    """``{group: [correct, answered]}`` of ``(group, correct)`` answers — what `group_bootstrap` draws from."""
    counts: dict[str, list[int]] = {}
    for group, correct in answers:
        entry = counts.setdefault(str(group), [0, 0])
        entry[0] += bool(correct)
        entry[1] += 1
    return counts


def group_bootstrap(runs: list[dict[str, list[int]]], draws: int = 2000, seed: int = 0,
                    level: float = 0.95) -> tuple[float, float]:
    """Interval of the mean accuracy of ``runs`` (one `tally` per seed) under resampling.

    Items of one group are not independent — MNNS's test problems are the permutations of a few dozen
    digit multisets, answered alike — so whole groups are drawn with replacement, within each run, and
    with several runs the runs (seeds) are drawn too: the interval holds what a rerun would vary in.
    A group per item gives the item-level bootstrap. Percentile interval, seeded (the same every time).
    """
    import numpy as np

    if draws < 1:
        raise ValueError(f"a bootstrap needs at least one draw, not {draws}")
    if not runs or any(not run for run in runs):
        raise ValueError("a bootstrap needs at least one run with answers")
    rng = np.random.default_rng(seed)
    tallies = [np.array(list(run.values()), dtype=float) for run in runs]  # per run: (correct, size) a group
    means = np.zeros(draws)
    for draw in range(draws):
        picked = rng.integers(len(runs), size=len(runs)) if len(runs) > 1 else [0]
        total = 0.0
        for r in picked:
            groups = tallies[r][rng.integers(len(tallies[r]), size=len(tallies[r]))]
            total += groups[:, 0].sum() / groups[:, 1].sum()
        means[draw] = total / len(picked)
    tail = 100 * (1 - level) / 2
    return float(np.percentile(means, tail)), float(np.percentile(means, 100 - tail))
