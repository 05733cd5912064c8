"""`gumbel:TAU` — Gumbel-softmax on a soft-thinking mixture (the soft-thinking analysis found vanilla
soft thinking ≈ greedy and Gumbel noise the best randomiser).

The weights are ``softmax((log p + g) / tau)`` with ``g`` standard Gumbel noise: tau → 0 gives one
token sampled from p (its embedding), tau = 1 a random mixture around p. No tractable density, so not
an RL policy here (RL uses mts or noise).
"""

from dataclasses import dataclass
from typing import ClassVar

import torch

from latentspace.core.named import above
from latentspace.model.samplers.base import Drawn, ThoughtSampler, register


@register
@dataclass
class GumbelSampler(ThoughtSampler):
    tau: float = 0.5
    name = "gumbel"
    parameter = "tau"
    needs_logits = True
    scored = False
    RANGES: ClassVar[dict] = {"tau": above(0, 1e6)}

    def draw(self, mean, logits, table, generator=None) -> Drawn:
        self.check(logits)
        uniform = torch.rand(logits.shape, generator=generator, dtype=torch.float32).to(logits.device)
        gumbel = -torch.log(-torch.log(uniform.clamp(1e-20, 1.0 - 1e-7)))
        weights = torch.softmax((torch.log_softmax(logits.float(), -1) + gumbel) / self.tau, -1)
        vectors = (weights @ table.float()).to(table.dtype)
        return Drawn(vectors, vectors)
