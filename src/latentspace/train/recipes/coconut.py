"""`coconut`: the continuous-thought curriculum (Hao et al. 2024).

Epochs ``[k·e, (k+1)·e)`` train stage k: the first k steps replaced by k·c continuous thoughts
(each the model's own last hidden state fed back), up to ``max_stage``; the remaining epochs train
beyond it (every step removed). The optimizer is re-created whenever the stage changes (the
trainer does this for every recipe whose stage moves). Paper settings for ProsQA/ProntoQA:
c = 1, max stage 6, 5 epochs per stage, 50 epochs.
"""

import random
from dataclasses import dataclass
from typing import ClassVar

from latentspace.core.named import between

from latentspace.train.recipes.base import Recipe, register
from latentspace.train.sequences import CurriculumConfig, build_sequence, stage_to_train


@register
@dataclass
class Coconut(Recipe):
    epochs: int = 50
    epochs_per_stage: int = 5
    max_stage: int = 6
    thoughts_per_step: int = 1  # c
    pad_latent_to_max: bool = False
    mix_prob: float = 0.0  # chance of training an item at a random other stage
    name = "coconut"
    # stages x thoughts bound the sequence length (the from-scratch model has 1024 positions)
    RANGES: ClassVar[dict] = {"epochs_per_stage": between(1, 100_000), "max_stage": between(0, 64),
                              "thoughts_per_step": between(0, 16), "mix_prob": between(0, 1)}
    needs_steps = True

    def curriculum(self) -> CurriculumConfig:
        return CurriculumConfig(self.thoughts_per_step, self.max_stage, self.pad_latent_to_max, True, self.mix_prob)

    def stage(self, epoch: int) -> int:
        return min(epoch // self.epochs_per_stage, self.max_stage + 1)

    def sequence(self, example, epoch, markers, rng: random.Random):
        config = self.curriculum()
        return build_sequence(example, stage_to_train(example, self.stage(epoch), config, rng), config, markers,
                              self.answer_tokens(example))
