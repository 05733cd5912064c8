"""`cot2`: continuous chain of thought with continuous supervision (Gozeten et al. 2025, CSFT).

The layout is CoT's (question, one slot per step, ``### answer``) but each step is a *distribution*
over tokens. Training is teacher-forced, so one pass: slot t's input is the mix of token embeddings
weighted by the step's target distribution, and the model's softmax at the position before slot t
is pulled to that distribution by KL. The target is the empirical distribution of the step's token
over a set of target traces — for MNNS all 16 sign choices' partial sums, or a budget of B traces
(the gold one and B-1 others, redrawn every epoch); for symbolic ProsQA the nodes at that depth.
The answer keeps its cross-entropy; with ``answer_marker`` off it follows the last thought directly, as
the authors read MNNS's answer (no ``###`` between), so the last slot's position predicts it. KL against a one-hot target is cross-entropy and the one-hot
mix is the token's embedding, so with B = 1 the loss is exactly CoT's.

At test time each thought is the model's own softmax mix of embeddings (``sample_k`` 0), or the mean
embedding of K tokens sampled from it (multi-token sampling; K = 1 is sampled CoT).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import ClassVar, TYPE_CHECKING

import torch
from torch import nn

from latentspace.core.named import between
from latentspace.train.latent_forward import LeanSwitch, empty_parts, latent_columns, summed_loss
from latentspace.train.recipes.base import Recipe, register
from latentspace.train.sequences import Batch, CurriculumConfig, IGNORE, LatentSequence, collate

if TYPE_CHECKING:  # the type only: no import at run time
    from latentspace.model.latent_model import LatentModel


@dataclass
class SoftBatch:
    """A CoT2 batch: the token rows (slots hold ``<|latent|>``) and each slot's target distribution."""

    batch: Batch
    target_ids: torch.Tensor  # [B, S, M] token ids of slot s's target multiset (padded with 0)
    target_weights: torch.Tensor  # [B, S, M] their probabilities (0 on padding)

    @property
    def size(self) -> int:
        return self.batch.size

    def shard(self, rows) -> SoftBatch:
        return SoftBatch(self.batch.shard(rows), self.target_ids[rows], self.target_weights[rows])

    def to(self, device) -> SoftBatch:
        return SoftBatch(self.batch.to(device), self.target_ids.to(device), self.target_weights.to(device))


def distributions(batch: SoftBatch, vocab: int) -> torch.Tensor:
    """``[B, S, V]`` dense target distributions."""
    dense = torch.zeros(*batch.target_ids.shape[:2], vocab, device=batch.target_ids.device)
    return dense.scatter_add_(-1, batch.target_ids, batch.target_weights.to(dense.dtype))


def soft_batch(sequences, pad_id: int, latent_id: int) -> SoftBatch:
    """Collate ``(sequence, per-slot target multisets)`` pairs: the token rows and each slot's distribution
    (a multiset's tokens weigh 1 / its size; an empty one weighs nothing)."""
    rows, targets = zip(*sequences) if sequences else ((), ())
    batch = collate(list(rows), pad_id, latent_id)
    slots = max((len(t) for t in targets), default=0)
    width = max((len(s) for t in targets for s in t), default=1)
    # padded nested lists, then one tensor each: a tensor per slot cost more than the model's step (MNNS)
    empty = [0] * width
    ids = [[found + [0] * (width - len(found)) for found in row] + [empty] * (slots - len(row)) for row in targets]
    counts = torch.tensor([[len(found) for found in row] + [0] * (slots - len(row)) for row in targets],
                          dtype=torch.float32).view(len(targets), slots, 1)
    present = torch.arange(width).view(1, 1, width) < counts  # each of a slot's targets weighs 1 / their count
    weights = torch.where(present, 1.0 / counts.clamp(min=1), 0.0)
    return SoftBatch(batch, torch.tensor(ids, dtype=torch.long).view(len(targets), slots, width), weights)


def step_sets_of(example) -> list[list[int]]:
    """Every step's full target multiset: the per-step sets (symbolic ProsQA's frontier at each depth), or
    each step's token across all traces (MNNS's partial sums)."""
    if example.step_sets:
        return [list(s) for s in example.step_sets]
    return [[trace[t] for trace in example.traces] for t in range(len(example.steps))]


def kl_to_targets(logits: torch.Tensor, positions: list[int], target: torch.Tensor,
                  present: torch.Tensor) -> tuple[torch.Tensor, int]:
    """(summed KL(target || softmax(logits at positions)) over the present slots, their count)."""
    logq = torch.log_softmax(logits[:, positions].float(), -1)
    kl = (torch.xlogy(target, target) - target * logq).sum(-1)  # 0·log 0 = 0
    return (kl * present).sum(), int(present.sum())


class SoftLM(LeanSwitch, nn.Module):
    """The teacher-forced CSFT forward: one pass, slots filled with target mixes."""

    def __init__(self, causal_lm: nn.Module) -> None:
        super().__init__()
        self.causal_lm = causal_lm

    def forward(self, soft: SoftBatch, parts: bool = True) -> dict:
        if soft.size == 0:
            return empty_parts(self, ["ce"])
        batch = soft.batch
        table = self.causal_lm.get_input_embeddings().weight
        embeds = self.causal_lm.get_input_embeddings()(batch.ids)
        columns = latent_columns(batch)
        target = distributions(soft, table.shape[0])[:, :len(columns)]
        if columns:
            mixes = target.to(table.dtype) @ table  # [B, S, d]
            slots = torch.zeros_like(batch.latent)
            slots[:, columns] = batch.latent[:, columns]
            placed = torch.zeros_like(embeds)
            placed[:, columns] = mixes
            embeds = torch.where(slots[..., None], placed, embeds)
        if self.lean:
            hidden = self.backbone(self.causal_lm, embeds, batch.attention_mask, batch.position_ids).last_hidden_state
            logits = self.causal_lm.get_output_embeddings()(hidden)
        else:
            logits = self.causal_lm(inputs_embeds=embeds, attention_mask=batch.attention_mask,
                                    position_ids=batch.position_ids).logits
        summed, count = summed_loss(logits, batch.labels)
        if columns:
            kl, slots = kl_to_targets(logits, [c - 1 for c in columns], target, batch.latent[:, columns])
            summed, count = summed + kl, count + slots
        return {"ce": (summed, count)}


@register
@dataclass
class ContinuousCoT(Recipe):
    epochs: int = 200
    budget: int = 0  # B: target traces per item (0: all of them; 1: the gold one, i.e. CoT)
    sample_k: int = 0  # at test time: 0 the softmax mix; K >= 1 the mean of K sampled token embeddings
    pad_to: int = 0  # thoughts per item at least (their count must not reveal the hops); extra ones target the answer
    name = "cot2"
    reads_pictures = False  # its own module or sequences: no picture task yet
    RANGES: ClassVar[dict] = {"budget": between(0, 1_000_000), "sample_k": between(0, 4096), "pad_to": between(0, 64)}
    needs_steps = True
    needs_targets = True
    mixes_tokens = True

    def curriculum(self) -> CurriculumConfig:  # CoT's layout: no markers, every step a slot
        return CurriculumConfig(thoughts_per_step=1, max_stage=10**6, markers=False)

    def stage(self, epoch: int) -> int:
        return 0

    def thoughts_at(self, example, stage: int) -> int:
        return max(len(example.steps), self.pad_to)

    def step_targets(self, example, rng: random.Random) -> list[list[int]]:
        """Each slot's target multiset (the empirical distribution is its counts); slots past the
        item's steps (``pad_to``) target its last gold step."""
        traces = example.traces
        if example.step_sets and self.budget != 1:
            targets = step_sets_of(example)
        else:
            if self.budget and self.budget < len(traces):
                traces = [traces[0], *rng.sample(traces[1:], self.budget - 1)]
            targets = [[trace[t] for trace in traces] for t in range(len(example.steps))]
        return targets + [[traces[0][-1]]] * (self.thoughts_at(example, 0) - len(targets))

    def sequence(self, example, epoch, markers, rng: random.Random):
        slots = [markers.latent] * self.thoughts_at(example, 0)
        answer = self.answer_tokens(example)
        ids = example.question + slots + answer
        labels = [IGNORE] * (len(example.question) + len(slots)) + answer
        return LatentSequence(ids, labels, len(slots)), self.step_targets(example, rng)

    def batch(self, sequences, pad_id: int, latent_id: int) -> SoftBatch:
        return soft_batch(sequences, pad_id, latent_id)

    def module(self, causal_lm) -> SoftLM:
        return SoftLM(causal_lm)

    def thought_inputs(self, lm: LatentModel, state, latent_id: int, project=None, generator=None) -> torch.Tensor:
        probs = torch.softmax(state.logits.float(), -1)
        table = lm.input_embeddings
        if not self.sample_k:
            return (probs @ table.float()).to(table.dtype)
        picks = torch.multinomial(probs, self.sample_k, replacement=True, generator=generator)  # [B, K]
        return table[picks].mean(1)
