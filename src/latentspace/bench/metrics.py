"""Summary statistics for evaluation rows: accuracy with a 95% interval, and mean costs."""

from __future__ import annotations

from collections import defaultdict

from latentspace.core.stats import wilson

__all__ = ["summarise", "wilson"]


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
