"""TOVA: keep the slots the last token attends to most (averaged over all heads, so every head
keeps the same slots); the last token itself always stays."""

from dataclasses import dataclass

import torch

from latentspace.memory.presses.base import Press
from latentspace.memory.presses.registry import register


def per_kv_head(scores: torch.Tensor, kv_heads: int) -> torch.Tensor:
    """``[B, heads, n]`` query-head scores averaged over each key/value head's group."""
    batch, heads, n = scores.shape
    return scores.view(batch, kv_heads, heads // kv_heads, n).mean(2)


@register
@dataclass
class TOVAPress(Press):
    name = "tova"

    def score(self, view):
        attn = view.attention(last=1)[:, :, 0, view.start:]  # [B, H, n]
        scores = attn.mean(1, keepdim=True).expand(-1, view.kv_heads, -1).clone()
        scores[..., -1] = 1e9
        return scores
