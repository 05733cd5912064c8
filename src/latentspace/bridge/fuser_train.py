"""Train a `CacheFuser`: only the fuser learns, with the receiver's next-token loss on the answers.

Both models are frozen, so each batch is read once (`read_both`) and kept: an epoch costs only the
receiver's few answer positions and their backward pass. The gates' Gumbel temperature is annealed
geometrically from ``temperature_start`` to ``temperature_end``. On `accelerate` like the trainer;
with ``out`` a checkpoint (`core.step_checkpoint`: one unit, random generators included) is written
every ``save_every`` steps and a rerun resumes from it, ending bit-identical to an uninterrupted run;
``out/fuser.safetensors`` is the latest fuser.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import torch

from latentspace.bridge.fused import answer_loss, read_both
from latentspace.bridge.fuser import CacheFuser, FuserShape, fuser_shape  # noqa: F401 (FuserShape: re-exported)
from latentspace.bridge.layers import proportional
from latentspace.core import named
from latentspace.core import step_checkpoint
from latentspace.core.errors import LatentspaceError
from latentspace.core.finite import check_loss
from latentspace.core.limits import MAX_BATCH
from latentspace.core.named import between
from latentspace.model import kv
from latentspace.model.grad import frozen


@dataclass
class FuserConfig:
    steps: int = 300
    batch_size: int = 8
    lr: float = 1e-3
    hidden: int = 256
    temperature_start: float = 1.0
    temperature_end: float = 0.05
    seed: int = 0
    save_every: int = 50

    RANGES: ClassVar[dict] = {"steps": between(1, 1_000_000), "batch_size": between(1, MAX_BATCH), "lr": between(1e-8, 1.0),
              "hidden": between(1, 65_536), "temperature_start": between(1e-3, 100),
              "temperature_end": between(1e-3, 100), "seed": between(0, 2**63 - 1), "save_every": between(1, 10**9)}


@dataclass
class Example:
    sharer_text: str  # context + question (what the sharer reads)
    receiver_text: str  # the question alone: the end of sharer_text
    answer: str


def all_receiver_layers(sharer_layers: int, receiver_layers: int) -> list[tuple[int, int]]:
    """Every receiver layer, each paired with the sharer layer at the same relative depth."""
    depths = [(r + 1) / receiver_layers for r in range(receiver_layers)]
    return [(s, r) for (s, _), r in zip(proportional(sharer_layers, receiver_layers, depths), range(receiver_layers))]


def answer_ids(receiver, answer: str) -> list[int]:
    ids = receiver.tokenizer.encode(answer, add_special_tokens=False)
    if not ids:
        raise LatentspaceError(f"answer {answer!r} has no tokens for the receiver")
    eos = receiver.tokenizer.eos_token_id
    return ids + ([eos] if eos is not None else [])


def train_fuser(sharer, receiver, examples: list[Example], config: FuserConfig | None = None,
                out: Path | None = None, progress=None, fuser: CacheFuser | None = None) -> tuple[CacheFuser, list[float]]:
    """(the trained fuser, loss per step). ``progress(step, loss)`` after every step."""
    from accelerate import Accelerator

    config = config or FuserConfig()
    named.check_options(FuserConfig, dataclasses.asdict(config), "fuser training")
    if not examples:
        raise LatentspaceError("fuser training needs at least one example")
    rng = random.Random(config.seed)
    torch.manual_seed(config.seed)
    batches = [examples[i:i + config.batch_size] for i in range(0, len(examples), config.batch_size)]
    with torch.no_grad():
        reads = [read_both(sharer, receiver, [e.sharer_text for e in b], [e.receiver_text for e in b]) for b in batches]
    answers = [[answer_ids(receiver, e.answer) for e in b] for b in batches]
    if fuser is None:
        pairs = all_receiver_layers(sharer.n_layers, receiver.n_layers)
        fuser = CacheFuser(fuser_shape(reads[0].sharer_kv, kv.to_tensors(reads[0].state.cache), pairs, config.hidden))
    accelerator = Accelerator(cpu=True)
    optimizer = torch.optim.AdamW(fuser.parameters(), lr=config.lr)
    fuser, optimizer = accelerator.prepare(fuser, optimizer)
    generators = step_checkpoint.Generators(python=rng)
    resumed = step_checkpoint.resume(out, optimizer, generators,
                                     lambda folder: read_weights(folder, fuser, config, sharer, receiver))
    start, losses = resumed.step, resumed.history
    ratio = config.temperature_end / config.temperature_start
    fuser.train()
    with frozen(sharer.model, receiver.model):
        for step in range(start, config.steps):
            temperature = config.temperature_start * ratio ** (step / max(1, config.steps - 1))
            b = rng.randrange(len(batches))
            loss = answer_loss(receiver, reads[b], fuser, answers[b], temperature)
            check_loss(loss, step + 1, f"lr={config.lr:g}")
            optimizer.zero_grad()
            accelerator.backward(loss)
            optimizer.step()
            losses.append(float(loss.detach()))
            if progress is not None:
                progress(step + 1, losses[-1])
            if out is not None and ((step + 1) % config.save_every == 0 or step + 1 == config.steps):
                save_checkpoint(out, fuser, optimizer, generators, step + 1, losses, config, sharer, receiver)
    return accelerator.unwrap_model(fuser).eval(), losses


def save_checkpoint(out: Path, fuser, optimizer, generators, step: int, losses: list[float], config, sharer,
                    receiver) -> None:
    meta = {"step": step, "config": dataclasses.asdict(config), "sharer": sharer.name, "receiver": receiver.name}

    def write(path: Path) -> None:
        fuser.save(path, sharer.fingerprint, receiver.fingerprint, meta)

    step_checkpoint.save(out, step, losses, optimizer, generators, lambda folder: write(folder / "fuser.safetensors"))
    write(out / "fuser.safetensors")  # the run's product, read by `bridge eval` and pipelines


def read_weights(folder: Path, fuser, config, sharer, receiver) -> int:
    """Load a checkpoint's fuser into ``fuser`` (same models, shape and settings, else refused); its step."""
    saved, meta = CacheFuser.load(folder / "fuser.safetensors", sharer.fingerprint, receiver.fingerprint)
    if meta.get("config") != dataclasses.asdict(config) or saved.shape != fuser.shape:
        raise LatentspaceError(f"{folder.parent} holds a fuser trained with other settings; give another --out or the "
                               "same ones")
    fuser.load_state_dict(saved.state_dict())
    return meta.get("step")


__all__ = ["Example", "FuserConfig", "FuserShape", "train_fuser"]
