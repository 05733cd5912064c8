"""`visual` and `visual-pause`: latent visual thoughts on a picture task (Mirage, arXiv 2506.17218).

Every item gets ``slots`` thought slots per reasoning step (one step per plan move on vsp), after the
question and its picture:

    <|picture|>×16 plan <|start-latent|> <|latent|>×(slots·steps) <|end-latent|> ### answer <eos>

The slots sit in one block after the plan, not between its moves, so the one machinery of the other
recipes (collate, the fed-back passes, `evaluate`, the audits) carries them unchanged; thought block
s·slots … belongs to move s, whose picture it is pulled towards.

- **Teacher epochs** (Mirage's stage 1): slot q of step s holds the frozen target encoder's code of
  quadrant q of the picture after step s (mapped into the model's width, see `lift`), and the last-layer
  state *before* each slot is pulled towards it: loss 0.1·CE + (1 − cos), Mirage's weighting.
- **Feedback epochs** (stage 2): the model's own state before each slot is fed into it (Coconut), CE only.
  ``gradual_moves`` > 0 makes stage 2 Coconut's curriculum instead of Mirage's switch: at sub-stage j the
  first j moves' slots are fed back while the later moves' slots still hold their targets (their states
  still pulled by cosine, the answer's CE at full weight), one more move every ``epochs_per_move`` epochs,
  every slot fed back from sub-stage ``gradual_moves`` on.
  `visual-s1` is the stage-1-only arm (C1): it answers with feedback too, its states having learned to
  imitate the targets.
- `visual-pause` is the control: the same slots, stages and optimizer resets, each slot the one learned
  ``<|latent|>`` embedding, CE only — any gain it shares comes from the extra positions.

Fed vectors (targets and fed-back states alike) are rescaled to norm √width, so the switch from stage 1
to stage 2 changes what is fed, not its scale. The target encoder is a cell-wise autoencoder fit on the
run's training pictures before the first epoch, then frozen (`latentspace.vision.target`); it is saved
with the run, so a resumed run and every later reading use the same targets.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from latentspace.core.errors import LatentspaceError
from latentspace.core.named import between
from latentspace.train.latent_forward import LatentLM, empty_parts, latent_columns, picture_parts, summed_loss
from latentspace.train.recipes.base import Recipe, register
from latentspace.train.sequences import CurriculumConfig, build_sequence
from latentspace.vision.target import K

ALL_STEPS = 64  # the curriculum's max stage: every step becomes slots (a plan is far shorter)
FIT_PICTURES = 20_000  # the target encoder is fit on at most this many of the training pictures


class Rescale(nn.Module):
    """A fed vector to norm ``size`` (no parameters): targets and fed-back states enter at one scale."""

    def __init__(self, size: float) -> None:
        super().__init__()
        self.size = size

    def forward(self, vectors: torch.Tensor) -> torch.Tensor:
        return vectors / vectors.norm(dim=-1, keepdim=True).clamp_min(1e-6) * self.size


def lift(dim: int, width: int, seed: int = 0) -> torch.Tensor:
    """``[dim, width]``, orthonormal rows when ``width ≥ dim`` (else columns): a fixed map of target codes
    into the model's width that keeps their cosines exactly — learned, it could map every code to one
    direction and make the cosine loss trivial."""
    generator = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(max(dim, width), min(dim, width), generator=generator))
    return q.T.contiguous() if width >= dim else q.contiguous()


def map_relative(codes: torch.Tensor, map_codes: torch.Tensor, filled: bool = False) -> torch.Tensor:
    """The `change` targets: step codes minus those of the map without the agent (broadcast), the agent's
    quadrant alone — the others differ by float noise only (batched convolutions) and are set to exactly
    zero, or the rescale would blow the noise up to a full-size target. ``filled`` (`change-filled`): those
    hold `empty_code` instead, so every slot has a target to pull its state to (a zero target pulls nothing,
    and the state then fed back there is whatever the model left in it)."""
    codes = codes - map_codes
    live = codes.norm(dim=-1, keepdim=True) > 1e-4
    if filled:
        return torch.where(live, codes, empty_code(codes.shape[-1]).to(codes))
    return codes * live


def empty_code(dim: int) -> torch.Tensor:
    """The "nothing moved here" code: equal in every number, so its cosine with any one cell's change (4 of a
    quadrant's 64 numbers) is at most 0.25 in size."""
    return torch.full((dim,), dim ** -0.5)


class VisualLM(LatentLM):
    """`LatentLM` whose slots, in a batch with step pictures, hold the targets (teacher forcing) and whose
    states before them are pulled there; a batch without them runs Coconut's feedback forward."""

    def __init__(self, causal_lm: nn.Module, channels: int, targets: str = "picture", pull_fed: bool = False,
                 **pictures) -> None:
        from latentspace.vision.target import TargetEncoder

        width = causal_lm.get_input_embeddings().embedding_dim
        super().__init__(causal_lm, feedback=True, project=Rescale(width ** 0.5), **pictures)
        self.targets, self.pull_fed = targets, pull_fed
        self.target = TargetEncoder(channels).requires_grad_(False)
        self.register_buffer("lift", lift(self.target.dim, width))

    def goals(self, states: torch.Tensor, pictures: torch.Tensor) -> torch.Tensor:
        """``[B, S, 3, H, W]`` step pictures (and the rows' question pictures ``[B, 3, H, W]``) -> ``[B, S·K,
        width]``: what each slot holds in teacher forcing. ``targets="change"``: each step's codes minus those
        of its map without the agent — the agent's part alone (the full codes are ~0.995 alike across steps)."""
        from latentspace.tasks.vsp import map_only

        b, s = states.shape[:2]
        codes = self.target.embed(states.flatten(0, 1)).reshape(b, s, K, -1)  # no gradient (frozen)
        if self.targets in ("change", "change-filled"):
            codes = map_relative(codes, self.target.embed(map_only(pictures))[:, None], self.targets == "change-filled")
        return self.project(codes.reshape(b, s * K, -1) @ self.lift)

    def teacher(self, batch):
        """(logits, summed 1 − cos over the target-holding slots, their count): every slot holds its target,
        except the first ``batch.fed_slots``, which are fed back first (the gradual stage 2)."""
        embeds = self.embed(batch)
        columns = latent_columns(batch)
        if not columns:
            raise LatentspaceError("a teacher-forced batch has no thought slots")
        goals = self.goals(batch.states, batch.images).to(embeds.dtype)
        if goals.shape[1] < len(columns):
            raise LatentspaceError(f"{len(columns)} slots but targets for {goals.shape[1]}: one picture per step")
        first, n = columns[0], len(columns)
        fed = min(batch.fed_slots, n)
        held = batch.latent[:, first:first + n].clone()
        held[:, :fed] = False  # those are fed back (a row with fewer slots has all of its own fed)
        block = torch.where(held[..., None], goals[:, :n], embeds[:, first:first + n])
        embeds = torch.cat([embeds[:, :first], block, embeds[:, first + n:]], 1)
        hidden, _, _ = self.last_states(batch, embeds=embeds, columns=columns[:fed])
        before = hidden[:, first - 1:first - 1 + n]  # the state before each slot
        cos = nn.functional.cosine_similarity(before.float(), goals[:, :n].float(), dim=-1)
        pulled = batch.latent[:, first:first + n] if self.pull_fed else held  # fed-back slots too (`pull_fed`)
        return self.head(hidden), ((1.0 - cos) * pulled).sum(), int(pulled.sum())

    def forward(self, batch, parts: bool = False):
        if batch.states is None:
            return super().forward(batch, parts)
        # stage 1's CE under its own name (weighted 0.1 there); the gradual stage 2's keeps weight 1
        ce_name = "ce" if batch.fed_slots else "ce_stage1"
        if parts and batch.size == 0:
            return empty_parts(self, [ce_name, "cos"])
        logits, cos, count = self.teacher(batch)
        ce = summed_loss(logits, batch.labels)
        if parts:
            return {ce_name: ce, "cos": (cos, count)}
        return ce[0] / max(1, ce[1]) + cos / max(1, count), logits


@register
@dataclass
class Visual(Recipe):
    epochs: int = 40
    teacher_epochs: int = 20  # Mirage's stage 1 (targets fed, states pulled); the rest: stage 2 (feedback)
    slots: int = 4  # thought slots per step: one per quadrant code of the step's picture (Mirage's k = 4)
    ce_weight: float = 0.1  # stage 1's answer loss beside 1 − cos (Mirage: 0.1)
    target_channels: int = 4  # code numbers per map cell of the frozen target encoder
    target_steps: int = 1500  # its training steps, before the first epoch
    latent_markers: bool = True  # <|start-latent|> / <|end-latent|> around the slots
    # "picture": the codes of the picture after the step (Mirage); "change": minus those of the map without
    # the agent, the agent's part alone (the other quadrants zero); "change-filled": those hold `empty_code`
    targets: str = "picture"
    # stage 2 as Coconut's curriculum (0: Mirage's switch of every slot at once): the first j moves' slots fed
    # back at sub-stage j < gradual_moves, every slot from gradual_moves on; one more move every epochs_per_move
    gradual_moves: int = 0
    epochs_per_move: int = 3
    # stage 2 keeps stage 1's cosine on every slot's state, fed back or not (Mirage drops it: CE only), so what
    # the model feeds itself stays what stage 1 taught it to read — scheduled sampling for thoughts
    pull_fed: bool = False
    name = "visual"
    RANGES: ClassVar[dict] = {"teacher_epochs": between(0, 100_000), "slots": between(0, 4),
                              "gradual_moves": between(0, ALL_STEPS), "epochs_per_move": between(1, 100_000),
                              "ce_weight": between(0, 1000), "target_channels": between(1, 64),
                              "target_steps": between(1, 1_000_000)}
    CHOICES: ClassVar[dict] = {"targets": ("picture", "change", "change-filled")}
    needs_steps = True
    needs_states = True

    def __post_init__(self) -> None:
        if self.slots not in (0, 4):
            raise LatentspaceError(f"slots is 4 (one per quadrant of a step's picture) or 0 (none), not {self.slots}")

    def curriculum(self) -> CurriculumConfig:
        return CurriculumConfig(self.slots, ALL_STEPS, False, self.latent_markers)

    def stage(self, epoch: int) -> int:
        """0: stage 1; then 1 (Mirage), or sub-stages 1 … gradual_moves (the last one every slot fed back)."""
        if epoch < self.teacher_epochs:
            return 0
        if not self.gradual_moves:
            return 1
        return min(1 + (epoch - self.teacher_epochs) // self.epochs_per_move, self.gradual_moves)

    def fed_moves(self, epoch: int) -> int | None:
        """How many moves' slots are fed back at ``epoch`` (0 in stage 1), None when all of them are."""
        stage = self.stage(epoch)
        if stage == 0:
            return 0
        return stage if self.gradual_moves and stage < self.gradual_moves else None

    def teaching(self, epoch: int) -> bool:
        """Whether ``epoch``'s batches carry the step pictures (some slot holds, or is pulled to, its target)."""
        return (self.fed_moves(epoch) is not None or self.pull_fed) and self.feedback and self.slots > 0

    def sequence(self, example, epoch, markers, rng: random.Random):
        found = build_sequence(example, ALL_STEPS + 1, self.curriculum(), markers, self.answer_tokens(example))
        if self.teaching(epoch):
            if example.states is None:
                raise LatentspaceError("the visual recipe's teacher epochs need each step's picture; train it on a "
                                       "task with pictures (vsp)")
            fed = self.fed_moves(epoch)
            found.states, found.fed_slots = example.states, (ALL_STEPS if fed is None else fed) * self.slots
        return found

    def thoughts_at(self, example, stage: int) -> int:
        return min(len(example.steps), ALL_STEPS) * self.slots

    def loss_weights(self) -> dict[str, float]:
        return {"ce": 1.0, "ce_stage1": self.ce_weight, "cos": 1.0}

    def module(self, causal_lm):
        parts = picture_parts(causal_lm)
        if not parts:
            raise LatentspaceError("the visual recipe trains a model built for a picture task (vsp)")
        return VisualLM(causal_lm, self.target_channels, self.targets, self.pull_fed, **parts)

    def prepare(self, module, examples) -> None:
        """Fit the frozen target encoder on the run's training pictures (questions' and steps')."""
        from latentspace.vision.target import fit_target_encoder

        pictures = [p for ex in examples for p in ([ex.picture] if ex.picture is not None else []) + list(ex.states)]
        if len(pictures) < 2:
            raise LatentspaceError("the visual recipe needs training items with pictures")
        picked = random.Random(0).sample(range(len(pictures)), min(len(pictures), FIT_PICTURES))
        fitted = fit_target_encoder(torch.stack([torch.as_tensor(pictures[i]) for i in picked]),
                                    channels=self.target_channels, steps=self.target_steps)
        module.target.load_state_dict(fitted.state_dict())

    def projector_of(self, module):
        return module.project


@register
@dataclass
class VisualChange(Visual):
    """`visual` with map-relative targets: each step's codes minus those of its map without the agent (the
    full codes of a step's picture are ~0.995 alike to the start's, so Mirage's cosine barely sees the move)."""

    targets: str = "change"
    name = "visual-change"


@register
@dataclass
class VisualFilled(Visual):
    """`visual-change` whose other quadrants hold one "empty" code instead of zero: every slot's state is pulled
    to a target, so what stage 2 feeds back in the quadrants the agent is not in is trained too (with zero
    targets it is whatever the model left there — measured: zeroing it at test time lifts a stage-1 model from
    33.5% to 53.8%, docs/results.md)."""

    targets: str = "change-filled"
    name = "visual-filled"


@register
@dataclass
class VisualStageOne(Visual):
    """Mirage's stage-1-only ablation (C1): every epoch teacher-forced, answered with feedback at test time
    (the states have learned to imitate the targets, and nothing else feeds the slots there)."""

    teacher_epochs: int = 40  # = epochs: the profile sets both
    name = "visual-s1"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.teacher_epochs < self.epochs:
            raise LatentspaceError(f"visual-s1 trains stage 1 only: teacher_epochs ({self.teacher_epochs}) must be at "
                                   f"least epochs ({self.epochs}); for both stages use the visual recipe")


@register
@dataclass
class VisualPause(Visual):
    """The control: `visual`'s slots, stages and optimizer resets, each slot the learned ``<|latent|>``
    embedding — no targets, no feedback, CE only."""

    name = "visual-pause"
    feedback = False
    needs_states = False

    def module(self, causal_lm):
        parts = picture_parts(causal_lm)
        if not parts:
            raise LatentspaceError("the visual-pause recipe trains a model built for a picture task (vsp)")
        return LatentLM(causal_lm, feedback=False, **parts)

    def loss_weights(self) -> dict[str, float]:
        return {"ce": 1.0}

    def prepare(self, module, examples) -> None:
        return None

    def projector_of(self, module):
        return None
