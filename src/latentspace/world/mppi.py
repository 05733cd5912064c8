"""MPPI over action sequences: sample around the current plan, weight each sample by the exponent
of its (normalised) negative cost, move the plan to the weighted mean; repeat."""

from __future__ import annotations

import torch


def mppi(cost_of, mean: torch.Tensor, samples: int, iterations: int, noise: float, temperature: float,
         generator: torch.Generator) -> torch.Tensor:
    """A better plan [H, 2] than ``mean``; ``cost_of(actions [K, H, 2]) -> [K]``.

    Costs are divided by their spread before the exponent, so ``temperature`` means the same for any
    world model's distance scale (a latent's, an image's, the true state's).
    """
    for _ in range(iterations):
        eps = torch.randn(samples, *mean.shape, generator=generator) * noise
        eps[0] = 0  # the current plan competes too
        actions = (mean[None] + eps).clamp(-1, 1)
        cost = cost_of(actions)
        scaled = (cost - cost.min()) / (cost.std() + 1e-8)
        weights = torch.softmax(-scaled / temperature, 0)
        mean = (weights[:, None, None] * actions).sum(0)
    return mean
