"""Train a tuned lens: minimise KL(final distribution ‖ lens distribution) at every layer.

Training text must exist offline: either a text file the user passes, or text the model samples
itself (`sample_text`). Only the translators learn; the model is frozen for the duration and its
``requires_grad`` flags are restored afterwards.

The settings are checked against `TunedLensConfig.RANGES` first, the loss every step and the
translators before they are returned (`latentspace.core.finite`): a diverging run stops at its first
NaN/inf step naming the learning rate, so no NaN lens is ever handed back or saved.
"""

from __future__ import annotations

import contextlib
import dataclasses
import random
from dataclasses import dataclass, field
from typing import ClassVar, TYPE_CHECKING

import torch
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from latentspace.core import finite, named
from latentspace.core.errors import LatentspaceError
from latentspace.core.limits import MAX_TRAIN_BATCH
from latentspace.lens.tuned_lens import TunedLens
from latentspace.model.grad import frozen

if TYPE_CHECKING:  # the type only: no import at run time
    from latentspace.model.latent_model import LatentModel

SEED_PROMPTS = ["The", "In", "Once upon a time", "Scientists", "def ", "My favourite", "The history of", "Today"]


@dataclass
class TunedLensConfig:
    steps: int = 200  # optimisation steps
    seq_len: int = 64  # tokens per training window
    batch_size: int = 8  # windows per step
    lr: float = 1e-3  # Adam learning rate
    weight_decay: float = 1e-3  # pulls translators towards 0, i.e. towards the logit lens
    heldout_fraction: float = 0.2  # windows kept aside for the reported KL
    layers_per_step: int | None = None  # train a random subset of layers per step (the LM head is the cost)
    seed: int = 0
    # a large lr is allowed (divergence is caught as it happens); NaN, inf and nonsense are not
    RANGES: ClassVar[dict] = {
        "steps": named.between(1, 1_000_000), "seq_len": named.between(2, 1_000_000),
        "batch_size": named.between(1, MAX_TRAIN_BATCH), "lr": named.above(0), "weight_decay": named.between(0, None),
        "heldout_fraction": named.above(0, 0.9), "layers_per_step": named.between(1, 100_000),
        "seed": named.between(0, 2**63 - 1)}


@dataclass
class TunedLensReport:
    logit_kl: list[float]  # held-out mean KL(final ‖ lens) per layer, logit lens
    tuned_kl: list[float]  # the same for the trained tuned lens
    train_windows: int
    heldout_windows: int
    losses: list[float] = field(default_factory=list)

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def sample_text(lm: LatentModel, n_samples: int = 16, tokens: int = 96, seed: int = 0) -> list[str]:
    """Text written by the model itself (temperature 1), an offline source of training text."""
    prompts = [SEED_PROMPTS[i % len(SEED_PROMPTS)] for i in range(n_samples)]
    out = lm.decode(lm.encode(prompts), max_new_tokens=tokens, temperature=1.0, seed=seed)
    return [p + t for p, t in zip(prompts, out.texts)]


def check_config(cfg: TunedLensConfig, lm: LatentModel | None = None) -> None:
    """The settings against their declared ranges (and ``lm``'s context), before any text is made."""
    named.check_options(TunedLensConfig, dataclasses.asdict(cfg), "tuned lens training")
    if lm is not None and lm.max_positions and cfg.seq_len > lm.max_positions:
        raise LatentspaceError(f"seq_len {cfg.seq_len} is longer than the model's context of {lm.max_positions} "
                               "positions")


def windows(lm: LatentModel, texts: list[str], seq_len: int) -> torch.Tensor:
    """Non-overlapping token windows ``[N, seq_len]`` from the concatenated texts."""
    ids = [i for t in texts for i in lm.tokenizer.encode(t + "\n", add_special_tokens=False)]
    n = len(ids) // seq_len
    if n < 2:
        raise LatentspaceError(f"need at least {2 * seq_len} tokens of training text, got {len(ids)}")
    return torch.tensor(ids[: n * seq_len]).view(n, seq_len)


def _layer_kls(lm: LatentModel, lens: TunedLens | None, batch: torch.Tensor,
               layers: list[int] | None = None) -> torch.Tensor:
    """Mean KL(final ‖ lens) per layer over every token of ``batch`` (grad flows into ``lens``)."""
    layers = list(range(lm.n_layers)) if layers is None else layers
    sites = [("resid_post", i) for i in layers]
    with lm.hooks(record=sites + [("unembed", None)]) as rec:
        lm.forward(batch.to(lm.device))
    final = torch.log_softmax(rec["unembed"].float(), -1)
    kls = []
    for i in layers:
        h = rec["resid_post", i]
        h = lens.translate(h, i) if lens is not None else h
        logp = torch.log_softmax(lm.head(h).float(), -1)
        kls.append((final.exp() * (final - logp)).sum(-1).mean())
    return torch.stack(kls)


@contextlib.contextmanager
def diverged_at(step: int, hint: str):
    """A translator that overflowed mid-training is a divergence: say at which step and why."""
    try:
        yield
    except finite.NonFiniteError as err:
        raise finite.NonFiniteError(f"training diverged at step {step} (check {hint}): {err}; "
                                    "nothing non-finite was saved") from None


def heldout_kl(lm: LatentModel, lens: TunedLens | None, data: torch.Tensor, batch_size: int) -> list[float]:
    with torch.no_grad():
        parts = [_layer_kls(lm, lens, data[i : i + batch_size]) * len(data[i : i + batch_size])
                 for i in range(0, len(data), batch_size)]
    return (torch.stack(parts).sum(0) / len(data)).tolist()


def train_tuned_lens(lm: LatentModel, texts: list[str], config: TunedLensConfig | None = None,
                     show_progress: bool = True) -> tuple[TunedLens, TunedLensReport]:
    """Fit a tuned lens on ``texts``; report held-out KL per layer against the logit lens."""
    cfg = config or TunedLensConfig()
    check_config(cfg, lm)
    hint = f"lr={cfg.lr:g}"
    data = windows(lm, texts, cfg.seq_len)
    order = list(range(len(data)))
    random.Random(cfg.seed).shuffle(order)
    n_held = max(1, int(len(order) * cfg.heldout_fraction))
    held, train = data[order[:n_held]], data[order[n_held:]]
    torch.manual_seed(cfg.seed)
    lens = TunedLens.for_model(lm)
    lens.meta = {"steps": cfg.steps, "train_windows": len(train), "seq_len": cfg.seq_len}
    opt = torch.optim.Adam(lens.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    losses = []
    columns = (TextColumn("tuned lens"), BarColumn(), TextColumn("{task.completed}/{task.total} loss {task.fields[loss]}"),
               TimeRemainingColumn())
    gen = torch.Generator().manual_seed(cfg.seed)
    with frozen(lm.model), Progress(*columns, disable=not show_progress, transient=True) as bar:
        task = bar.add_task("train", total=cfg.steps, loss="-")
        for step in range(1, cfg.steps + 1):
            pick = torch.randint(len(train), (min(cfg.batch_size, len(train)),), generator=gen)
            # the last layer's lens is the model's own output: its translator stays at identity (Adam
            # would otherwise turn float noise in its zero gradient into full-size steps)
            layers = list(range(lm.n_layers - 1))
            if cfg.layers_per_step and cfg.layers_per_step < len(layers):
                layers = sorted(torch.randperm(len(layers), generator=gen)[: cfg.layers_per_step].tolist())
            with diverged_at(step, hint):
                loss = _layer_kls(lm, lens, train[pick], layers).mean()
            losses.append(finite.check_loss(loss, step, hint))  # stops before a NaN update is taken
            opt.zero_grad()
            loss.backward()
            opt.step()
            bar.update(task, advance=1, loss=f"{losses[-1]:.3f}")
    finite.check_module(lens, cfg.steps, hint)  # the last update can overflow with a finite loss
    with diverged_at(cfg.steps, hint):  # finite weights can still overflow in use: the held-out pass tells
        report = TunedLensReport(heldout_kl(lm, None, held, cfg.batch_size), heldout_kl(lm, lens, held, cfg.batch_size),
                                 len(train), len(held), losses)
    for kl in report.tuned_kl:
        finite.check_loss(kl, cfg.steps, f"{hint}; the held-out KL after the last step")
    lens.meta.update(heldout_logit_kl=report.logit_kl, heldout_tuned_kl=report.tuned_kl)
    return lens.eval(), report
