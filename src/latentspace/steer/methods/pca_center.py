"""PCA of centred pairs (repeng's ``pca_center``): each pair is moved to its own midpoint.

Both sides of pair i become ``±(pos_i - neg_i) / 2``; the first principal direction of those 2N
points (already centred by construction) is the direction the pairs separate along, with what
varies from topic to topic (shared by both sides) removed.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from latentspace.steer.methods.base import register
from latentspace.steer.methods.pca_diff import top_component


@register("pca_center")
@dataclass
class PcaCenter:
    def __call__(self, pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
        mid = (pos.float() + neg.float()) / 2
        return top_component(torch.cat([pos.float() - mid, neg.float() - mid]))
