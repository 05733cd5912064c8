"""Mean difference (CAA, Rimsky et al.): the average of positive minus negative activations."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from latentspace.steer.methods.base import register


@register("mean_diff")
@dataclass
class MeanDiff:
    def __call__(self, pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
        return (pos.float() - neg.float()).mean(0)
