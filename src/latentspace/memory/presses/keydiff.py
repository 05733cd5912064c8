"""KeyDiff: keep the keys least like the average key of the context (distinctive keys carry the
content; near-average ones are what every position shares)."""

from dataclasses import dataclass

import torch.nn.functional as F

from latentspace.memory.presses.base import Press
from latentspace.memory.presses.registry import register


@register
@dataclass
class KeyDiffPress(Press):
    name = "keydiff"

    def score(self, view):
        keys, mask = view.new_keys.float(), view.new_mask[:, None, :, None].float()
        anchor = (keys * mask).sum(2, keepdim=True) / mask.sum(2, keepdim=True).clamp_min(1)
        return -F.cosine_similarity(keys, anchor, dim=-1)
