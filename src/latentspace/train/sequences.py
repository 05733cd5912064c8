"""Curriculum sequences: stage k replaces the first k reasoning steps with k·c continuous thoughts.

    question <|start-latent|> <|latent|>×(k·c) <|end-latent|> step_{k+1} ... step_n ### answer <eos>

The loss covers only what follows the thoughts (remaining steps and the answer); the question,
the markers and the latent slots are masked (-100). Beyond ``max_stage`` every step is removed
and ``max_stage·c`` thoughts are used (fewer when an item has fewer steps, unless
``pad_latent_to_max``). Stage 0 is plain chain of thought with an empty thought block, which is
how Coconut's curriculum starts. ``collate`` pads a batch so every row's first thought sits in
the same column — the fed-back passes then cover the same columns for every row.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch

from latentspace.core.errors import LatentspaceError
from latentspace.train.data import TokenizedExample

IGNORE = -100  # label of positions without loss (the cross-entropy convention)


@dataclass
class CurriculumConfig:
    thoughts_per_step: int = 1  # c: continuous thoughts replacing one language step
    max_stage: int = 6  # last stage that still keeps steps; beyond it every step is removed
    pad_latent_to_max: bool = False  # beyond max_stage: always max_stage·c thoughts
    markers: bool = True  # <|start-latent|>/<|end-latent|> around the thoughts
    mix_prob: float = 0.0  # chance that an item trains a random stage 0..len(steps) instead


@dataclass(frozen=True)
class MarkerIds:
    start: int
    latent: int
    end: int


@dataclass
class LatentSequence:
    ids: list[int]
    labels: list[int]
    n_latent: int  # thought slots (``latent`` ids) in ``ids``
    picture: object = None  # the example's image ([3, H, W]) when its task has one (`latentspace.vision`)
    # the pictures after each step [steps, 3, H, W] when the recipe trains on them (visual's teacher stage)
    states: object = None
    # of those slots, how many come first fed back before the rest hold their targets (visual's gradual stage 2)
    fed_slots: int = 0


def stage_to_train(example: TokenizedExample, stage: int, config: CurriculumConfig, rng: random.Random) -> int:
    """The scheduled stage, or with ``mix_prob`` a random one (other stages' data mixed in)."""
    if config.mix_prob and rng.random() < config.mix_prob:
        return rng.randint(0, len(example.steps))
    return stage


def build_sequence(example: TokenizedExample, stage: int, config: CurriculumConfig,
                   marker_ids: MarkerIds, answer: list[int] | None = None) -> LatentSequence:
    """The training sequence of ``example`` at curriculum ``stage`` (see the module docstring);
    ``answer`` replaces ``### answer <eos>`` (a recipe without the answer marker passes the bare answer)."""
    if stage > config.max_stage:
        skipped = len(example.steps)
        thoughts = config.max_stage if config.pad_latent_to_max else min(len(example.steps), config.max_stage)
    else:
        skipped, thoughts = stage, stage
    n_latent = thoughts * config.thoughts_per_step
    block = [marker_ids.latent] * n_latent
    if config.markers:
        block = [marker_ids.start, *block, marker_ids.end]
    prefix = example.question + block
    rest = [t for step in example.steps[skipped:] for t in step] + (example.answer if answer is None else answer)
    return LatentSequence(prefix + rest, [IGNORE] * len(prefix) + rest, n_latent, example.picture)


@dataclass
class Batch:
    ids: torch.Tensor  # [B, T]
    attention_mask: torch.Tensor  # [B, T]
    position_ids: torch.Tensor  # [B, T]
    labels: torch.Tensor  # [B, T], IGNORE where no loss
    latent: torch.Tensor  # [B, T] bool: thought slots
    images: torch.Tensor | None = None  # [B, 3, H, W]: the rows' pictures (tasks with pictures only)
    # [B, S, 3, H, W]: each row's pictures after its steps, zero-padded to the longest row (visual's teacher stage)
    states: torch.Tensor | None = None
    fed_slots: int = 0  # the first slots fed back, the rest holding targets (visual's gradual stage 2; one per batch)

    def _tensors(self) -> tuple[torch.Tensor, ...]:
        return self.ids, self.attention_mask, self.position_ids, self.labels, self.latent

    def _optional(self, change) -> dict:
        return {name: None if value is None else change(value)
                for name, value in (("images", self.images), ("states", self.states))} | {"fed_slots": self.fed_slots}

    def to(self, device) -> Batch:
        return Batch(*(t.to(device) for t in self._tensors()), **self._optional(lambda t: t.to(device)))

    def shard(self, rows: torch.Tensor) -> Batch:
        """Some rows (one process's part of a global batch)."""
        return Batch(*(t[rows] for t in self._tensors()), **self._optional(lambda t: t[rows]))

    @property
    def size(self) -> int:
        return self.ids.shape[0]


def collate(sequences: list[LatentSequence], pad_id: int, latent_id: int) -> Batch:
    """Left-pad rows so their first thought shares a column, then right-pad to one length.

    Position ids count from each row's first real token, so padding changes nothing for a row.
    """
    firsts = [seq.ids.index(latent_id) if seq.n_latent else None for seq in sequences]
    column = max((f for f in firsts if f is not None), default=0)
    lefts = [column - f if f is not None else 0 for f in firsts]
    length = max(left + len(seq.ids) for left, seq in zip(lefts, sequences))
    rows = {"ids": [], "mask": [], "pos": [], "labels": []}
    for left, seq in zip(lefts, sequences):
        right = length - left - len(seq.ids)
        rows["ids"].append([pad_id] * left + seq.ids + [pad_id] * right)
        rows["mask"].append([0] * left + [1] * len(seq.ids) + [0] * right)
        rows["pos"].append([0] * left + list(range(len(seq.ids))) + [0] * right)
        rows["labels"].append([IGNORE] * left + seq.labels + [IGNORE] * right)
    ids = torch.tensor(rows["ids"])
    fed = {seq.fed_slots for seq in sequences}
    if len(fed) > 1:
        raise LatentspaceError(f"a batch mixes rows with {sorted(fed)} fed-back slots; one stage per batch")
    return Batch(ids, torch.tensor(rows["mask"]), torch.tensor(rows["pos"]), torch.tensor(rows["labels"]),
                 ids == latent_id, images=pictures(sequences), states=step_pictures(sequences),
                 fed_slots=fed.pop() if fed else 0)


def present(values: list, what: str) -> list[torch.Tensor] | None:
    """The rows' ``what`` as float tensors, or None when no row has one; a batch mixing both is a bug upstream
    (a task gives every item one or none)."""
    found = [v is not None for v in values]
    if not any(found):
        return None
    if not all(found):
        raise LatentspaceError(f"a batch mixes rows with and without {what}; a task gives every item one or none")
    return [torch.as_tensor(v, dtype=torch.float32) for v in values]


def pictures(sequences: list[LatentSequence]) -> torch.Tensor | None:
    """The rows' pictures stacked, or None for a text batch."""
    found = present([seq.picture for seq in sequences], "pictures")
    return None if found is None else torch.stack(found)


def step_pictures(sequences: list[LatentSequence]) -> torch.Tensor | None:
    """Each row's pictures after its steps, zero-padded to the most steps, or None when no row has them."""
    parts = present([seq.states for seq in sequences], "step pictures")
    if parts is None:
        return None
    most = max(len(p) for p in parts)
    return torch.stack([torch.cat([p, p.new_zeros(most - len(p), *p.shape[1:])]) for p in parts])
