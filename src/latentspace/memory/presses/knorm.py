"""Knorm: keep the keys with the smallest norm (Devoto et al. 2024: low-norm keys draw attention)."""

from dataclasses import dataclass

from latentspace.memory.presses.base import Press
from latentspace.memory.presses.registry import register


@register
@dataclass
class KnormPress(Press):
    name = "knorm"

    def score(self, view):
        return -view.new_keys.float().norm(dim=-1)
