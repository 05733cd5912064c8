"""The search table: greedy beside each selector at each N, with intervals over groups of items.

MNNS items carry their digit multiset as ``meta["group"]`` (permutations answered alike): intervals
draw whole groups, and a selector's gain over greedy gets a paired interval (the same groups drawn for
both), which is what "beats greedy" should be judged by.
"""

from __future__ import annotations

from latentspace.core.stats import group_bootstrap, tally
from latentspace.search.paths import SampledPaths
from latentspace.search.selectors import select


def groups_of(paths: SampledPaths) -> list[str]:
    return [str((item.meta or {}).get("group", f"item {i}")) for i, item in enumerate(paths.items)]


def paired_gain(groups: list[str], picked: list[bool], greedy: list[bool], draws: int = 2000,
                seed: int = 0) -> tuple[float, float]:
    """95% interval of (selector − greedy) accuracy, drawing whole groups with replacement for both."""
    import numpy as np

    keys = sorted(set(groups))
    index = {k: i for i, k in enumerate(keys)}
    per = np.zeros((len(keys), 3))
    for g, a, b in zip(groups, picked, greedy):
        per[index[g]] += (a, b, 1)
    rng = np.random.default_rng(seed)
    gains = []
    for _ in range(draws):
        drawn = per[rng.integers(len(keys), size=len(keys))]
        gains.append((drawn[:, 0].sum() - drawn[:, 1].sum()) / drawn[:, 2].sum())
    return float(np.percentile(gains, 2.5)), float(np.percentile(gains, 97.5))


def search_report(paths: SampledPaths, sizes: tuple[int, ...] = (), selectors: tuple[str, ...] = ("pass", "vote"),
                  draws: int = 2000, rm=None) -> list[dict]:
    """Rows ``{selector, n, accuracy, interval, gain, gain_interval}``: greedy once, then each selector at
    each N in ``sizes`` (prefixes of the drawn paths; default: all of them); ``rm``: the reward model
    the ``rm`` selector ranks with."""
    groups = groups_of(paths)
    greedy = [bool(r["correct"]) for r in paths.greedy]
    rows = [row("greedy", 1, groups, greedy, greedy, draws)]
    for n in sorted({min(s, paths.n) for s in sizes} or {paths.n}):
        for name in selectors:
            picked = [select(name, p[:n], f[:n], rm) for p, f in zip(paths.paths, paths.features or [[]] * len(paths.paths))]
            rows.append(row(name, n, groups, picked, greedy, draws))
    return rows


def row(name: str, n: int, groups: list[str], picked: list[bool], greedy: list[bool], draws: int) -> dict:
    low, high = group_bootstrap([tally(zip(groups, picked))], draws)
    out = {"selector": name, "n": n, "accuracy": sum(picked) / max(1, len(picked)), "interval": [low, high],
           "correct": sum(picked), "items": len(picked)}
    if name != "greedy":
        out["gain"] = out["accuracy"] - sum(greedy) / max(1, len(greedy))
        out["gain_interval"] = list(paired_gain(groups, picked, greedy, draws))
    return out
