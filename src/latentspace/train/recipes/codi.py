"""`codi`: self-distillation into continuous thoughts (Shen et al. 2025).

One model plays two roles on every item. As *teacher* it reads the explicit chain of thought
(question, steps, answer; cross-entropy on steps and answer). As *student* it reads the question,
``<|start-latent|>``, n continuous thoughts (fed-back states through a projector
Linear-GELU-Linear-LayerNorm), ``<|end-latent|>`` and the answer (cross-entropy on the answer).
Distillation pulls the student's hidden states towards the teacher's at the token just before
the answer value — ``###`` in our layout — with smooth-L1, every layer, averaged; the teacher
side is a fixed target (no gradient through it) and both sides are divided by the standard
deviation of the teacher's state (per row and layer) so that no layer dominates by its scale.
Loss = student CE + ``distill_weight`` · distill + ``teacher_weight`` · teacher CE.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from types import SimpleNamespace
from typing import ClassVar

import torch
from torch import nn

from latentspace.core.errors import LatentspaceError
from latentspace.core.named import between
from latentspace.train.latent_forward import LatentLM, LeanSwitch, empty_parts, summed_loss
from latentspace.train.recipes.base import Recipe, register
from latentspace.train.sequences import Batch, CurriculumConfig, IGNORE, build_sequence, collate


def projector(d: int) -> nn.Module:
    return nn.Sequential(nn.Linear(d, d), nn.GELU(), nn.Linear(d, d), nn.LayerNorm(d))


@dataclass
class PairBatch:
    teacher: Batch
    student: Batch
    teacher_at: torch.Tensor  # [B] column of "###" in each teacher row
    student_at: torch.Tensor  # [B] ... in each student row

    @property
    def size(self) -> int:
        return self.teacher.size

    def shard(self, rows) -> PairBatch:
        return PairBatch(self.teacher.shard(rows), self.student.shard(rows), self.teacher_at[rows],
                         self.student_at[rows])

    def to(self, device) -> PairBatch:
        return PairBatch(self.teacher.to(device), self.student.to(device), self.teacher_at.to(device),
                         self.student_at.to(device))


class CodiLM(LeanSwitch, nn.Module):
    def __init__(self, causal_lm: nn.Module, use_projector: bool = True) -> None:
        super().__init__()
        d = causal_lm.get_input_embeddings().weight.shape[-1]
        self.student = LatentLM(causal_lm, project=projector(d) if use_projector else None)

    @property
    def causal_lm(self) -> nn.Module:
        return self.student.causal_lm

    @property
    def project(self) -> nn.Module | None:
        return self.student.project

    def teacher(self, batch: Batch):
        """The CoT pass: ``.logits`` and every layer's ``.hidden_states``."""
        if not self.lean:
            return self.causal_lm(input_ids=batch.ids, attention_mask=batch.attention_mask,
                                  position_ids=batch.position_ids, output_hidden_states=True)
        embeds = self.causal_lm.get_input_embeddings()(batch.ids)
        out = self.backbone(self.causal_lm, embeds, batch.attention_mask, batch.position_ids, layers=True)
        return SimpleNamespace(logits=self.student.head(out.last_hidden_state), hidden_states=out.hidden_states)

    def forward(self, pair: PairBatch, parts: bool = True) -> dict:
        if pair.size == 0:
            return empty_parts(self, ["student", "teacher", "distill"])
        teacher = self.teacher(pair.teacher)
        logits, (states, first) = self.student.run(pair.student, layers=True)
        rows = torch.arange(pair.size, device=pair.teacher_at.device)
        distill = 0.0
        layers = range(1, len(states))  # every block's output (entry 0 is the embeddings)
        for layer in layers:
            target = teacher.hidden_states[layer][rows, pair.teacher_at].detach()
            guess = states[layer][rows, pair.student_at - first]
            scale = target.std(-1, keepdim=True).clamp_min(1e-6)  # per row: independent of how rows are sharded
            distill = distill + nn.functional.smooth_l1_loss(guess / scale, target / scale, reduction="none").mean(-1)
        return {"student": summed_loss(logits, pair.student.labels),
                "teacher": summed_loss(teacher.logits, pair.teacher.labels),
                "distill": ((distill / len(layers)).sum(), pair.size)}


@register
@dataclass
class Codi(Recipe):
    epochs: int = 20
    thoughts: int = 6  # continuous thoughts of the student
    distill_weight: float = 1.0
    teacher_weight: float = 1.0
    use_projector: bool = True
    name = "codi"
    reads_pictures = False  # its own module or sequences: no picture task yet
    RANGES: ClassVar[dict] = {"thoughts": between(1, 64), "distill_weight": between(0, None),
                              "teacher_weight": between(0, None)}
    needs_steps = True

    def __post_init__(self) -> None:
        if not self.answer_marker:  # the teacher's and the student's states are matched at the `###` column
            raise LatentspaceError("codi distils at the `###` before the answer: it needs answer_marker true")

    def curriculum(self) -> CurriculumConfig:  # the student's layout: every step replaced
        return CurriculumConfig(thoughts_per_step=self.thoughts, max_stage=1, pad_latent_to_max=True, markers=True)

    def stage(self, epoch: int) -> int:
        return 2  # beyond max stage 1: no steps, 1·thoughts slots

    def thoughts_at(self, example, stage: int) -> int:
        return self.thoughts

    def sequence(self, example, epoch, markers, rng: random.Random):
        teacher = build_sequence(example, 0, CurriculumConfig(max_stage=0, markers=False), markers)
        student = build_sequence(example, self.stage(epoch), self.curriculum(), markers)
        return teacher, student, len(example.answer)

    def batch(self, sequences, pad_id: int, latent_id: int) -> PairBatch:
        teachers, students, lengths = zip(*sequences)
        teacher, student = collate(list(teachers), pad_id, latent_id), collate(list(students), pad_id, latent_id)
        return PairBatch(teacher, student, mark_columns(teacher, teachers, lengths),
                         mark_columns(student, students, lengths))

    def module(self, causal_lm) -> CodiLM:
        return CodiLM(causal_lm, self.use_projector)

    def loss_weights(self) -> dict[str, float]:
        return {"student": 1.0, "teacher": self.teacher_weight, "distill": self.distill_weight}

    def projector_of(self, module: CodiLM) -> nn.Module | None:
        return module.project  # its parameters are the module's extras (the base class saves and loads them)


def mark_columns(batch: Batch, sequences, answer_lengths: list[int]) -> torch.Tensor:
    """Column of each row's ``###`` (the answer's first token) after `collate`'s left padding."""
    lefts = [int(batch.attention_mask[row].nonzero()[0]) for row in range(batch.size)]
    return torch.tensor([left + len(seq.ids) - n for left, seq, n in zip(lefts, sequences, answer_lengths)])
