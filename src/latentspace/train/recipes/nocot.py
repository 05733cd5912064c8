"""`nocot`: train on question -> answer only (the No-CoT baseline)."""

from dataclasses import dataclass

from latentspace.train.recipes.base import Recipe, register
from latentspace.train.sequences import CurriculumConfig


@register
@dataclass
class NoChainOfThought(Recipe):
    name = "nocot"

    def curriculum(self) -> CurriculumConfig:
        return CurriculumConfig(max_stage=0, markers=False)

    def stage(self, epoch: int) -> int:
        return 1  # beyond max stage 0: every step removed, no thoughts
