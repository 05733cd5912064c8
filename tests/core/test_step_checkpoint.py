"""The one resumable step checkpoint (`core.step_checkpoint`), on its own: a toy trainer killed and
resumed ends bit-identical to an uninterrupted one (weights, optimizer moments, every generator)."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from latentspace.core import step_checkpoint
from latentspace.core.checked import DamagedFile


def train(out, steps: int, stop_after: int | None = None) -> tuple[torch.nn.Module, list]:
    """A loop that draws from torch, numpy and python generators, checkpointing every step."""
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.05)
    generators = step_checkpoint.Generators(np.random.default_rng(0), random.Random(0))

    def read_weights(folder):
        saved = torch.load(folder / "weights.pt", weights_only=True)
        model.load_state_dict(saved["state"])
        return saved["step"]

    resumed = step_checkpoint.resume(out, optimizer, generators, read_weights)
    history = resumed.history
    for step in range(resumed.step + 1, steps + 1):
        x = torch.randn(8, 4) + float(generators.numpy.normal()) + generators.python.random()
        loss = (model(x) - x.sum(1, keepdim=True)).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        history.append(loss.item())
        step_checkpoint.save(out, step, history, optimizer, generators,
                             lambda folder, step=step: torch.save({"state": model.state_dict(), "step": step},
                                                                  folder / "weights.pt"))
        if step == stop_after:
            break
    return model, history


def test_killed_and_resumed_equals_uninterrupted(tmp_path):
    whole, whole_history = train(tmp_path / "whole", 6)
    train(tmp_path / "cut", 6, stop_after=3)
    resumed, resumed_history = train(tmp_path / "cut", 6)
    assert resumed_history == whole_history
    for a, b in zip(whole.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)


def test_a_checkpoint_with_a_file_of_another_step_is_refused(tmp_path):
    train(tmp_path / "run", 2)
    folder = tmp_path / "run" / step_checkpoint.FOLDER
    (folder / "weights.pt").write_bytes((folder / "weights.pt").read_bytes() + b"\0")
    with pytest.raises(DamagedFile):
        train(tmp_path / "run", 4)
