"""Logistic-regression direction: the weight of an L2-regularised classifier of positive vs negative.

Fitted on mean-centred raw activations (not standardised: dividing by each feature's spread would
favour quiet dimensions, which separate a few pairs well but do not carry the concept). The L2
penalty keeps the weight near the mean difference when the data are separable in many ways.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from latentspace.steer.methods.base import register


@register("logistic")
@dataclass
class Logistic:
    l2: float = 1e-2

    def __call__(self, pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
        x = torch.cat([pos.float(), neg.float()]).double()
        x = x - x.mean(0)
        x = x / x.norm(dim=-1).mean().clamp_min(1e-12)  # one overall scale, so l2 means the same everywhere
        y = torch.cat([torch.ones(len(pos)), torch.zeros(len(neg))]).double()
        w = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
        b = torch.zeros((), dtype=torch.float64, requires_grad=True)
        opt = torch.optim.LBFGS([w, b], lr=1, max_iter=200, line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            loss = torch.nn.functional.binary_cross_entropy_with_logits(x @ w + b, y) + self.l2 * (w**2).sum()
            loss.backward()
            return loss

        opt.step(closure)
        return w.detach().float()


def probe_direction(probe, positive) -> torch.Tensor:
    """A lens probe's direction towards class ``positive``, mapped back to raw activation space."""
    if probe.task != "classification":
        return probe.weight / probe.std  # a regression probe: the direction of increasing value
    k = probe.classes.index(positive)
    others = [i for i in range(len(probe.classes)) if i != k]
    w = probe.weight[k] - probe.weight[others].mean(0)
    return w / probe.std
