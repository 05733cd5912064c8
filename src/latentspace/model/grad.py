"""Gradients through frozen models (tuned lens training, test-time latent optimisation, cache fusers)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def frozen(*models: torch.nn.Module) -> Iterator[None]:
    """No parameter of ``models`` requires grad inside; the caller's flags are restored after (also
    when the body raises). Training/eval mode is left as it is."""
    flags = [[p.requires_grad for p in m.parameters()] for m in models]  # all read before any is changed
    try:
        for m in models:
            m.requires_grad_(False)
        yield
    finally:
        for m, before in zip(models, flags):
            for p, flag in zip(m.parameters(), before):
                p.requires_grad_(flag)
