"""`noise:SIGMA` — Gaussian noise on the thought's input (LatentTTS; "soft tokens, hard truths").

The fed vector is ``mean + sigma * eps`` with ``eps ~ N(0, I)``, sigma in the units of the hidden
state (compare it with the thoughts' norm: `train eval` prints their RMS). Its log-density under a
policy with another mean is ``-|x - mean|^2 / (2 sigma^2)`` (up to a constant that cancels in a
ratio), which is how RL moves Coconut's, CODI's and pause's thoughts.
"""

from dataclasses import dataclass
from typing import ClassVar

import torch

from latentspace.core.named import between
from latentspace.model.samplers.base import Drawn, ThoughtSampler, register


@register
@dataclass
class GaussianSampler(ThoughtSampler):
    sigma: float = 0.1
    name = "noise"
    parameter = "sigma"
    RANGES: ClassVar[dict] = {"sigma": between(0, 1e6)}

    def draw(self, mean, logits, table, generator=None) -> Drawn:
        eps = torch.randn(mean.shape, generator=generator, dtype=torch.float32).to(mean.device)
        vectors = (mean.float() + self.sigma * eps).to(mean.dtype)
        return Drawn(vectors, vectors)

    def log_prob(self, action, mean, logits, table) -> torch.Tensor:
        if self.sigma == 0:
            return torch.zeros(mean.shape[0], device=mean.device)  # a point mass: every policy gives it log 1
        return -((action.float() - mean.float()) ** 2).sum(-1) / (2 * self.sigma ** 2)

    def kl(self, mean, logits, ref_mean, ref_logits) -> torch.Tensor:
        if self.sigma == 0:
            return torch.zeros(mean.shape[0], device=mean.device)
        return ((mean.float() - ref_mean.float()) ** 2).sum(-1) / (2 * self.sigma ** 2)  # equal covariances
