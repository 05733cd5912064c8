"""The cross-entropy method over action sequences: sample from a Gaussian, keep the cheapest
``elite`` share, refit the Gaussian to them; repeat."""

from __future__ import annotations

import torch


def cem(cost_of, mean: torch.Tensor, samples: int, iterations: int, noise: float, elite: float,
        generator: torch.Generator) -> torch.Tensor:
    """A better plan [H, 2] than ``mean``; ``cost_of(actions [K, H, 2]) -> [K]``."""
    std = torch.full_like(mean, noise)
    keep = max(2, int(samples * elite))
    for _ in range(iterations):
        actions = (mean[None] + torch.randn(samples, *mean.shape, generator=generator) * std[None]).clamp(-1, 1)
        actions[0] = mean
        best = actions[cost_of(actions).argsort()[:keep]]
        mean, std = best.mean(0), best.std(0) + 0.05  # a floor: the search never freezes
    return mean
