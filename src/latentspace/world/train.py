"""Train a world model (JEPA or pixel) or the behaviour-cloning policy on offline trajectories.

Batches are random windows of ``window`` actions (``window + 1`` frames) from random episodes; the
model's own ``loss(observations, actions)`` says what it learns from them. On `accelerate` like the
other trainers; with ``out`` a checkpoint (`core.step_checkpoint`: written as one unit, random
generators included) is written every ``save_every`` steps and a rerun with the same settings resumes
from it, ending bit-identical to an uninterrupted run; ``out/model.safetensors`` is the latest model.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from latentspace.core import named, step_checkpoint
from latentspace.core.errors import LatentspaceError
from latentspace.core.finite import check_loss
from latentspace.core.limits import MAX_BATCH
from latentspace.core.named import between
from latentspace.world.checkpoint import load_world, save_world
from latentspace.world.data import Trajectories


@dataclass
class TrainConfig:
    steps: int = 3000
    batch_size: int = 64
    window: int = 4
    lr: float = 1e-3
    seed: int = 0
    save_every: int = 250

    RANGES: ClassVar[dict] = {"steps": between(1, 10_000_000), "batch_size": between(1, MAX_BATCH),
                              "window": between(1, 64), "lr": between(1e-8, 1.0), "seed": between(0, 2**63 - 1),
                              "save_every": between(1, 10**9)}


def windows(data: Trajectories, batch: int, window: int, rng: np.random.Generator):
    if window > data.steps:
        raise LatentspaceError(f"window {window} is longer than the dataset's episodes ({data.steps} steps)")
    e = rng.integers(0, data.episodes, batch)
    t = rng.integers(0, data.steps - window + 1, batch)
    frames = t[:, None] + np.arange(window + 1)[None]
    obs = torch.from_numpy(data.observations[e[:, None], frames])
    actions = torch.from_numpy(data.actions[e[:, None], frames[:, :-1]])
    return obs, actions


def train_world(model, data: Trajectories, config: TrainConfig | None = None, out: Path | None = None,
                progress=None) -> tuple[object, list[dict]]:
    """(the trained model, the loss terms per step). ``progress(step, total, terms)`` after each step."""
    from accelerate import Accelerator

    config = config or TrainConfig()
    named.check_options(TrainConfig, dataclasses.asdict(config), "world-model training")
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    accelerator = Accelerator(cpu=True)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr)
    prepared, optimizer = accelerator.prepare(model, optimizer)
    generators = step_checkpoint.Generators(numpy=rng)
    resumed = step_checkpoint.resume(out, optimizer, generators, lambda folder: read_weights(folder, model, config, data))
    start, history = resumed.step, resumed.history
    if start == 0:
        fit_input_statistics(model, data)
    prepared.train()
    for step in range(start, config.steps):
        obs, actions = windows(data, config.batch_size, config.window, rng)
        loss, terms = model.loss(obs, actions)
        check_loss(loss, step + 1, f"lr={config.lr:g}")
        optimizer.zero_grad()
        accelerator.backward(loss)
        optimizer.step()
        history.append({"loss": float(loss.detach()), **terms})
        if progress is not None:
            progress(step + 1, config.steps, history[-1])
        if out is not None and ((step + 1) % config.save_every == 0 or step + 1 == config.steps):
            save_checkpoint(out, model, optimizer, generators, step + 1, history, config, data)
    return model.eval(), history


def fit_input_statistics(model, data: Trajectories, frames: int = 8192) -> None:
    """Set every standardising encoder's channel statistics from (evenly spaced) training frames."""
    fitting = [m for m in model.modules() if hasattr(m, "fit") and hasattr(m, "mean")]
    if fitting:
        flat = data.observations.reshape(-1, *data.observations.shape[2:])
        sample = torch.from_numpy(flat[:: max(1, len(flat) // frames)])
        for module in fitting:
            module.fit(sample)


def identity(config: TrainConfig, data: Trajectories) -> dict:
    return {"train": dataclasses.asdict(config), "data_seed": data.seed, "episodes": data.episodes, "steps": data.steps}


def save_checkpoint(out: Path, model, optimizer, generators, step: int, history: list, config: TrainConfig,
                    data) -> None:
    meta = {"step": step, **identity(config, data)}
    step_checkpoint.save(out, step, history, optimizer, generators,
                         lambda folder: save_world(folder / "model.safetensors", model, data.config, meta))
    save_world(out / "model.safetensors", model, data.config, meta)  # the run's product, read by plan and eval


def read_weights(folder: Path, model, config: TrainConfig, data) -> int:
    """Load a checkpoint's weights into ``model`` (same kind, settings and data, else refused); its step."""
    saved, meta, _ = load_world(folder / "model.safetensors", data.config)
    same = (meta.get("kind") == model.kind and meta.get("settings") == model.config.to_dict()
            and all(meta.get(k) == v for k, v in identity(config, data).items()))
    if not same:
        raise LatentspaceError(f"{folder.parent} holds a {meta.get('kind')} model trained with other settings or data; "
                               "give another --out or the same ones")
    model.load_state_dict(saved.state_dict())
    return meta.get("step")
