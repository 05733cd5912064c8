"""`coconut`: the continuous-thought curriculum (Hao et al. 2024).

Epochs ``[k·e, (k+1)·e)`` train stage k: the first k steps replaced by k·c continuous thoughts
(each the model's own last hidden state fed back), up to ``max_stage``; the remaining epochs train
beyond it (every step removed). The optimizer is re-created whenever the stage changes, as in the
paper (``reset_optimizer=False`` keeps one, as CoT2's authors do for their MNNS Coconut). Paper settings for ProsQA/ProntoQA:
c = 1, max stage 6, 5 epochs per stage, 50 epochs.
"""

import random
from dataclasses import dataclass
from typing import ClassVar

from latentspace.core.named import between

from latentspace.train.latent_forward import LatentLM, THOUGHT_SOURCES, picture_parts
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
    # False: no <|start-latent|>/<|end-latent|> around the thoughts (CoT2's authors lay MNNS out without them)
    latent_markers: bool = True
    # Coconut's paper re-creates the optimizer at every stage; CoT2's authors keep one for the whole run
    reset_optimizer: bool = True
    # "previous": a thought is the last hidden state before its slot (the paper); "slot": the state its own
    # slot gets from a zero input (CoT2's authors' MNNS Coconut)
    thought_from: str = "previous"
    name = "coconut"
    # stages x thoughts bound the sequence length (the from-scratch model has 1024 positions)
    RANGES: ClassVar[dict] = {"epochs_per_stage": between(1, 100_000), "max_stage": between(0, 64),
                              "thoughts_per_step": between(0, 16), "mix_prob": between(0, 1)}
    CHOICES: ClassVar[dict] = {"thought_from": THOUGHT_SOURCES}
    needs_steps = True

    def curriculum(self) -> CurriculumConfig:
        return CurriculumConfig(self.thoughts_per_step, self.max_stage, self.pad_latent_to_max, self.latent_markers,
                                self.mix_prob)

    def module(self, causal_lm):
        return LatentLM(causal_lm, feedback=self.feedback, thought_from=self.thought_from, **picture_parts(causal_lm))

    def thought_inputs(self, lm, state, latent_id: int, project=None, generator=None):
        if not self.feedback or self.thought_from == "previous":
            return super().thought_inputs(lm, state, latent_id, project, generator)
        import torch

        with torch.no_grad():  # the probe's slot is read on a copy, so the state itself gains nothing
            return lm.step(state.fork(), torch.zeros(state.batch_size, lm.hidden_size, device=lm.device,
                                                     dtype=lm.dtype)).hidden

    def resets_optimizer(self) -> bool:
        return self.reset_optimizer

    def stage(self, epoch: int) -> int:
        return min(epoch // self.epochs_per_stage, self.max_stage + 1)

    def sequence(self, example, epoch, markers, rng: random.Random):
        config = self.curriculum()
        return build_sequence(example, stage_to_train(example, self.stage(epoch), config, rng), config, markers,
                              self.answer_tokens(example))
