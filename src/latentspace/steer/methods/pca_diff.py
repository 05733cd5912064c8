"""PCA of differences (repeng's ``pca_diff``): the main axis along which pair differences vary.

The differences are centred before the decomposition, as a PCA does (and as repeng does); the
sign is then chosen by majority projection. Centring removes what all pairs share: this finds the
concept only when pairs differ by *varying amounts* of it. When every pair differs by about the
same shift plus topic noise, the top component is the noise — use `pca_center` or `mean_diff`,
which keep the shared part.
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
