"""H2O (heavy hitters): keep the slots that gathered the most attention over the whole pass,
plus a recent window (Zhang et al. 2023 split the budget between the two)."""

from dataclasses import dataclass
from typing import ClassVar

from latentspace.core.named import between
from latentspace.memory.presses.base import Press
from latentspace.memory.presses.registry import register
from latentspace.memory.presses.tova import per_kv_head

BLOCK = 128  # queries per block: attention is [B, H, BLOCK, L] at a time, never L x L


@register
@dataclass
class H2OPress(Press):
    name = "h2o"
    window: int = 32
    RANGES: ClassVar[dict] = {"window": between(1, 1_000_000)}

    def score(self, view):
        queries = view.queries()
        real = view.new_mask.float()
        total = None
        for s in range(0, view.n_new, BLOCK):
            e = min(s + BLOCK, view.n_new)
            part = view.attention(queries=queries[:, :, s:e], first=view.start + s)
            part = (part * real[:, None, s:e, None]).sum(2)
            total = part if total is None else total + part
        scores = per_kv_head(total[..., view.start:], view.kv_heads)
        scores[..., -min(self.window, view.n_new):] = 1e9
        return scores

