"""`icot`: stepwise internalisation of chain of thought (Deng et al. 2024).

Training starts on full chains of thought; every epoch ``remove_per_epoch`` more CoT tokens are
cut from the left, plus a small random offset o with P(o) ∝ exp(-λ·o) that smooths the jump
between schedules, until no CoT is left and the model answers straight after the question. The
stage is the number of tokens removed, so the trainer re-creates the optimizer whenever removal
grows (the paper's reset). At test time the model gets the bare question.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import ClassVar

from latentspace.core.named import between

from latentspace.train.recipes.base import Recipe, register
from latentspace.train.sequences import CurriculumConfig, IGNORE, LatentSequence


def smoothing_offset(rng: random.Random, lam: float) -> int:
    """o >= 0 with P(o) ∝ exp(-λ·o) (a geometric law: P(o >= k) = exp(-λ·k))."""
    if lam <= 0 or math.isinf(lam):
        return 0
    return int(math.log(1.0 - rng.random()) / -lam)


@register
@dataclass
class ImplicitCoT(Recipe):
    epochs: int = 30
    remove_per_epoch: int = 8  # CoT tokens cut from the left per epoch
    smoothing_lambda: float = 4.0  # λ of the random extra removal (inf: none)
    name = "icot"
    reads_pictures = False  # its own module or sequences: no picture task yet
    RANGES: ClassVar[dict] = {"remove_per_epoch": between(0, 100_000), "smoothing_lambda": between(0, math.inf)}
    needs_steps = True

    def curriculum(self) -> CurriculumConfig:
        return CurriculumConfig(max_stage=0, markers=False)

    def stage(self, epoch: int) -> int:
        return epoch * self.remove_per_epoch

    def sequence(self, example, epoch, markers, rng: random.Random) -> LatentSequence:
        removed = self.stage(epoch) + (smoothing_offset(rng, self.smoothing_lambda) if epoch else 0)
        cot = [t for step in example.steps for t in step]
        rest = cot[removed:] + self.answer_tokens(example)
        return LatentSequence(example.question + rest, [IGNORE] * len(example.question) + rest, 0)

    def thoughts_at(self, example, stage: int) -> int:
        return 0
