"""Surprisal: keep the tokens the model itself could not predict; drop the ones it could.

Query-agnostic and the same for every head and layer: a slot's score is -log p(token | the
tokens before it) under the model, read from the prefill's own logits, max-pooled over
``spread`` neighbours on each side so the tokens right around a surprise (a key's last word, the
"is" before a value) stay with it. What a model can predict it can largely rebuild; what it
cannot (names, numbers, codes) is what a compressed memory must not lose. The idea of pruning
low self-information tokens comes from Selective Context (Li et al. 2023), which removes them
from the prompt text; here the prompt is read in full and only the cache is cut.
"""

from dataclasses import dataclass
from typing import ClassVar

import torch.nn.functional as F

from latentspace.core.named import between
from latentspace.memory.presses.base import Press, SLOTS
from latentspace.memory.presses.registry import register

KEPT = 1e9


@register
@dataclass
class SurprisalPress(Press):
    name = "surprisal"
    per_layer = False
    needs_logprobs = True
    sinks: int = 4
    spread: int = 1
    RANGES: ClassVar[dict] = {"sinks": SLOTS, "spread": between(0, 1000)}

    def score_positions(self, seq):
        scores = -seq.logprobs()
        order = seq.mask.long().cumsum(1)
        first = (order == 1) & (seq.mask > 0)  # nothing predicted it (or only padding did)
        if seq.start == 0:
            first = first | ((order <= self.sinks) & (seq.mask > 0))
        scores = scores.masked_fill(first, KEPT).masked_fill(seq.mask == 0, 0.0)
        if self.spread:
            size = 2 * self.spread + 1
            scores = F.max_pool1d(scores[:, None], size, stride=1, padding=self.spread)[:, 0]
        return scores
