"""`dirichlet:ALPHA` — Dirichlet noise on a soft-thinking mixture (the soft-thinking analysis's other
randomiser, beside Gumbel-softmax).

The weights are drawn from ``Dirichlet(alpha * p)`` over the whole vocabulary: their mean is p, so a
large alpha feeds almost the deterministic mix and a small one almost one token, chosen with
probability p. The gamma draws behind a Dirichlet underflow for the tiny concentrations a vocabulary
holds (float32 returns the same smallest number for all of them, i.e. uniform weights), so they are
drawn in log space: ``Gamma(a) = Gamma(a + 1) * U ** (1 / a)``. The density exists, but RL here samples
with mts or noise, whose log-probabilities are checked against torch's.
"""

from dataclasses import dataclass
from typing import ClassVar

import torch

from latentspace.core.named import above
from latentspace.model.samplers.base import Drawn, ThoughtSampler, register


@register
@dataclass
class DirichletSampler(ThoughtSampler):
    alpha: float = 1.0
    name = "dirichlet"
    parameter = "alpha"
    needs_logits = True
    scored = False
    RANGES: ClassVar[dict] = {"alpha": above(0, 1e6)}

    def draw(self, mean, logits, table, generator=None) -> Drawn:
        self.check(logits)
        concentration = self.alpha * torch.softmax(logits.float(), -1).cpu()
        uniform = torch.rand(concentration.shape, generator=generator).clamp_min(1e-30)
        # torch's gamma sampler takes no generator: seed the global one from ours, inside a fork
        seed = int(torch.randint(0, 2**62, (1,), generator=generator))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            shifted = torch._standard_gamma(concentration + 1.0)
        log_gamma = torch.log(shifted) + torch.log(uniform) / concentration  # -inf where p underflowed to 0
        weights = torch.softmax(log_gamma, -1).to(logits.device)
        vectors = (weights @ table.float()).to(table.dtype)
        return Drawn(vectors, vectors)
