"""`coconut`: the continuous-thought curriculum (Hao et al. 2024).

Epochs ``[k·e, (k+1)·e)`` train stage k: the first k steps replaced by k·c continuous thoughts
(each the model's own last hidden state fed back), up to ``max_stage``; the remaining epochs train
beyond it (every step removed). The optimizer is re-created whenever the stage changes, as in the
paper (``reset_optimizer=False`` keeps one, as CoT2's authors do for their MNNS Coconut). Paper settings for ProsQA/ProntoQA:
c = 1, max stage 6, 5 epochs per stage, 50 epochs.

``frontier_weight`` > 0 adds the superposition follow-up's "BFS loss" (Zhu et al. 2025): the state fed
back as thought k, read through the LM head, is pulled by KL to every node k+1 hops from the root (the
same set CoT2 targets on symbolic ProsQA; on MNNS every trace's partial sum) — the paper's Coconut
supervises the thoughts only through the text after them. Weighted against the token cross-entropy,
each averaged over its own count.
"""

import random
from dataclasses import dataclass
from typing import ClassVar

from latentspace.core.errors import LatentspaceError
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
    # > 0: each fed-back state is also supervised with its step's full target set (the "BFS loss")
    frontier_weight: float = 0.0
    name = "coconut"
    # stages x thoughts bound the sequence length (the from-scratch model has 1024 positions)
    RANGES: ClassVar[dict] = {"epochs_per_stage": between(1, 100_000), "max_stage": between(0, 64),
                              "thoughts_per_step": between(0, 16), "mix_prob": between(0, 1),
                              "frontier_weight": between(0, 1000)}
    CHOICES: ClassVar[dict] = {"thought_from": THOUGHT_SOURCES}
    needs_steps = True

    def __post_init__(self) -> None:
        if self.frontier_weight and (self.thoughts_per_step != 1 or self.thought_from != "previous"):
            raise LatentspaceError("frontier_weight supervises the state before each thought slot as that step's "
                                   "thought: it needs thoughts_per_step 1 and thought_from previous")

    @property
    def needs_targets(self) -> bool:  # the frontier loss reads each step's target set from the data
        return self.frontier_weight > 0

    def curriculum(self) -> CurriculumConfig:
        return CurriculumConfig(self.thoughts_per_step, self.max_stage, self.pad_latent_to_max, self.latent_markers,
                                self.mix_prob)

    def module(self, causal_lm):
        if self.frontier_weight:
            from latentspace.train.recipes.frontier_loss import FrontierLM

            return FrontierLM(causal_lm, feedback=self.feedback, **picture_parts(causal_lm))
        return LatentLM(causal_lm, feedback=self.feedback, thought_from=self.thought_from, **picture_parts(causal_lm))

    def loss_weights(self) -> dict[str, float]:
        return {"ce": 1.0, "frontier": self.frontier_weight} if self.frontier_weight else {"ce": 1.0}

    def batch(self, sequences, pad_id: int, latent_id: int):
        if not self.frontier_weight:
            return super().batch(sequences, pad_id, latent_id)
        from latentspace.train.recipes.cot2 import soft_batch

        return soft_batch(sequences, pad_id, latent_id)

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
        built = build_sequence(example, stage_to_train(example, self.stage(epoch), config, rng), config, markers,
                               self.answer_tokens(example))
        if not self.frontier_weight:
            return built
        from latentspace.train.recipes.cot2 import step_sets_of

        # thought k stands for step k: its target is that step's set; padded thoughts past the steps get none
        sets = step_sets_of(example)
        return built, [sets[k] if k < len(sets) else [] for k in range(built.n_latent)]
