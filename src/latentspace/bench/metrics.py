"""Summary statistics for evaluation rows: accuracy with a 95% interval, and mean costs."""

from __future__ import annotations

import math
from collections import defaultdict


def wilson(correct: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval for a proportion (sensible at 0% and 100%, unlike p ± 2σ)."""
    if n == 0:
        return (0.0, 0.0)
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def summarise(rows: list[dict]) -> list[dict]:
    """One summary per (task, strategy): accuracy [95% CI] and mean tokens/latents/positions/time."""
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for row in rows:
        groups[(row["task"], row["strategy"])].append(row)
    out = []
    for (task, strategy), group in sorted(groups.items()):
        n, correct = len(group), sum(r["correct"] for r in group)
        lo, hi = wilson(correct, n)
        mean = lambda key: sum(r[key] for r in group) / n  # noqa: E731
        out.append({"task": task, "strategy": strategy, "n": n, "seeds": sorted({r["seed"] for r in group}),
                    "accuracy": correct / n, "ci_low": lo, "ci_high": hi,
                    "explicit_tokens": mean("explicit_tokens"), "latent_steps": mean("latent_steps"),
                    "positions": mean("positions"), "seconds": mean("seconds"),
                    "peak_mb": max(r.get("peak_mb", 0.0) for r in group)})
    return out
