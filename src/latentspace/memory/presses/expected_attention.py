"""Expected attention: score each slot by the attention *future* queries are expected to give it.

The queries of the last ``window`` slots are taken as a Gaussian (mean and covariance, before
the rotary embedding); rotated by the average rotation of the next ``horizon`` positions, a
query q ~ N(mu, Sigma) gives a key k the expected weight exp(s mu.k + s^2/2 k'Sigma k) (s the
attention scale). Weights are normalised over the new slots, multiplied by the value norm (a
slot with a tiny value changes little), and averaged over each key/value head's query heads.
"""

from dataclasses import dataclass
from typing import ClassVar

import torch

from latentspace.core.named import between
from latentspace.memory.presses.base import Press, SLOTS
from latentspace.memory.presses.registry import register
from latentspace.memory.presses.tova import per_kv_head
from latentspace.memory.presses.view import rotate

KEPT = 1e9


@register
@dataclass
class ExpectedAttentionPress(Press):
    name = "expected_attention"
    window: int = 64
    horizon: int = 512
    sinks: int = 4
    covariance: bool = True
    RANGES: ClassVar[dict] = {"window": between(1, 1_000_000), "horizon": between(1, 1_000_000), "sinks": SLOTS}

    def score(self, view):
        window = min(self.window, view.n_new)
        q = view.queries(last=window, rotated=False).float()  # [B, H, w, D]
        real = view.new_mask[:, -window:].float()[:, None, :, None]
        count = real.sum(2, keepdim=True).clamp_min(1)
        mean = (q * real).sum(2, keepdim=True) / count  # [B, H, 1, D]
        centred = (q - mean) * real
        rotation = view.future_rotation(self.horizon)
        if rotation is not None:
            cos, sin = (t[:, None, None] for t in rotation)
            mean = rotate(mean, cos, sin)
        keys = view.new_keys.float().repeat_interleave(q.shape[1] // view.kv_heads, dim=1)  # [B, H, n, D]
        scale = view.scaling()
        logits = scale * (keys * mean).sum(-1)
        if self.covariance and window > 1:
            sigma = centred.transpose(-1, -2) @ centred / (count - 1).clamp_min(1)  # [B, H, D, D]
            if rotation is not None:  # R Sigma R^T with R the averaged rotation
                sigma = rotate(rotate(sigma, cos, sin).transpose(-1, -2), cos, sin).transpose(-1, -2)
            logits = logits + 0.5 * scale**2 * torch.einsum("bhnd,bhde,bhne->bhn", keys, sigma, keys)
        logits = logits.masked_fill(view.new_mask[:, None] == 0, float("-inf"))
        weights = logits.softmax(-1).nan_to_num(0.0)
        scores = per_kv_head(weights, view.kv_heads) * view.new_values.float().norm(dim=-1)
        if view.start == 0:
            first = (view.new_mask.long().cumsum(1) <= self.sinks) & (view.new_mask > 0)
            scores = scores.masked_fill(first[:, None], KEPT)
        return scores
