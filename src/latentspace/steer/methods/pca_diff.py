"""PCA of differences (repeng's ``pca_diff``): the main axis along which pair differences vary.

The differences are centred before the decomposition, as a PCA does; the direction's sign is then
chosen by majority projection. When every pair differs by much the same vector, the centred
differences keep only its spread in strength, which is still along that vector; `pca_center`
(no centring of the differences) is the variant that keeps the common part itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from latentspace.steer.methods.base import register


def top_component(x: torch.Tensor) -> torch.Tensor:
    """First right-singular vector of ``x`` ``[N, d]`` (unit norm, arbitrary sign)."""
    return torch.linalg.svd(x.double(), full_matrices=False)[2][0].float()


@register("pca_diff")
@dataclass
class PcaDiff:
    def __call__(self, pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
        diffs = pos.float() - neg.float()
        return top_component(diffs - diffs.mean(0))
