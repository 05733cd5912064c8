"""SnapKV: the last ``window`` queries vote (mean attention, pooled over neighbours) for the slots
worth keeping; the window itself is always kept. With the question inside the window the
question guides what the context keeps."""

from dataclasses import dataclass
from typing import ClassVar

import torch.nn.functional as F

from latentspace.core.named import between
from latentspace.memory.presses.base import Press, check_kernel
from latentspace.memory.presses.registry import register
from latentspace.memory.presses.tova import per_kv_head

KEPT = 1e9


@register
@dataclass
class SnapKVPress(Press):
    name = "snapkv"
    window: int = 64
    kernel: int = 5
    RANGES: ClassVar[dict] = {"window": between(1, 1_000_000), "kernel": between(1, 63)}

    def __post_init__(self) -> None:
        super().__post_init__()
        check_kernel(self.kernel, self.name)

    def score(self, view):
        window = min(self.window, view.n_new)
        attn = view.attention(last=window)  # [B, H, w, L]
        real = view.new_mask[:, -window:].float()[:, None, :, None]  # pad queries do not vote
        votes = (attn * real).sum(2) / real.sum(2).clamp_min(1)  # [B, H, L]
        votes, slots = votes[..., view.start:], view.new_mask[:, None].float()
        # average over real neighbours only: padding must not dilute the first real slots of a row
        pool = lambda x: F.avg_pool1d(x, self.kernel, stride=1, padding=self.kernel // 2)  # noqa: E731
        votes = pool(votes * slots) / pool(slots).clamp_min(1e-9)
        scores = per_kv_head(votes, view.kv_heads)
        scores[..., -window:] = KEPT
        return scores
