"""`mts:K` — multi-token sampling (CoT2): the mean embedding of K tokens drawn from the thought's softmax.

K = 1 feeds one token's embedding (sampled CoT); as K grows the mean approaches the deterministic mix.
The log-probability of a draw is that of its K tokens, so RL's policy gradient flows into the logits.
"""

from dataclasses import dataclass
from typing import ClassVar

import torch

from latentspace.core.named import between
from latentspace.model.samplers.base import Drawn, ThoughtSampler, register


@register
@dataclass
class MultiTokenSampler(ThoughtSampler):
    k: int = 4
    name = "mts"
    parameter = "k"
    needs_logits = True
    RANGES: ClassVar[dict] = {"k": between(1, 4096)}

    def draw(self, mean, logits, table, generator=None) -> Drawn:
        self.check(logits)
        probs = torch.softmax(logits.float(), -1)
        picks = torch.multinomial(probs, self.k, replacement=True, generator=generator)  # [B, K]
        return Drawn(table[picks].mean(1), picks)

    def log_prob(self, action, mean, logits, table) -> torch.Tensor:
        return self.log_prob_parts(action, mean, logits, table).sum(-1)

    def log_prob_parts(self, action, mean, logits, table) -> torch.Tensor:
        self.check(logits)
        return torch.log_softmax(logits.float(), -1).gather(-1, action)  # [B, K]: one part per drawn token

    def kl(self, mean, logits, ref_mean, ref_logits) -> torch.Tensor:
        self.check(logits)
        logp, ref = torch.log_softmax(logits.float(), -1), torch.log_softmax(ref_logits.float(), -1)
        return self.k * (logp.exp() * (logp - ref)).sum(-1)  # K independent draws: K times one draw's KL
