"""Gradients through a frozen model (tuned lens training, test-time latent optimisation)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def frozen(model: torch.nn.Module) -> Iterator[None]:
    """No parameter of ``model`` requires grad inside; the caller's flags are restored after."""
    flags = [p.requires_grad for p in model.parameters()]
    try:
        for p in model.parameters():
            p.requires_grad_(False)
        yield
    finally:
        for p, flag in zip(model.parameters(), flags):
            p.requires_grad_(flag)
