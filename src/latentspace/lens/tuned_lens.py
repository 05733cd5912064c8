"""Tuned lens: one affine translator per layer, read through the model's own head.

Each translator is zero-initialised and applied residually (``h + A(h)``): a fresh tuned lens *is*
the logit lens, and weight decay pulls it back towards it. Training lives in `tuned_train.py`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from latentspace.core.finite import NonFiniteError, stream_overflows
from latentspace.core.saved import check_same, load_state, load_tensors, save_tensors

if TYPE_CHECKING:  # the type only: no import at run time
    from latentspace.model.latent_model import LatentModel


class TunedLens(nn.Module):
    def __init__(self, n_layers: int, hidden_size: int, fingerprint: dict, meta: dict | None = None) -> None:
        super().__init__()
        self.translators = nn.ModuleList(nn.Linear(hidden_size, hidden_size) for _ in range(n_layers))
        for t in self.translators:
            nn.init.zeros_(t.weight)
            nn.init.zeros_(t.bias)
        self.fingerprint = fingerprint
        self.meta = meta or {}

    @classmethod
    def for_model(cls, lm: LatentModel) -> TunedLens:
        return cls(lm.n_layers, lm.hidden_size, lm.fingerprint).to(lm.device, lm.dtype)

    def translate(self, hidden: torch.Tensor, layer: int) -> torch.Tensor:
        """``h + A_layer(h)``: the residual-stream vector the head should read."""
        out = hidden + self.translators[layer](hidden)
        if stream_overflows(out):  # a translator from a diverged run: its reading would be uniform noise
            raise NonFiniteError(f"the tuned lens's translator for layer {layer} overflows the residual stream "
                                 "(its weights are too large: trained with a diverging learning rate?)")
        return out

    def check_model(self, lm: LatentModel) -> None:
        check_same(self.fingerprint, lm.fingerprint, "tuned lens")

    def save(self, path: str | Path) -> Path:
        """safetensors with the fingerprint and training metadata in the header; atomic write."""
        return save_tensors(path, self.state_dict(), "tuned_lens", self.fingerprint, self.meta)

    @classmethod
    def load(cls, path: str | Path, lm: LatentModel) -> TunedLens:
        """Load for ``lm``; refuses a lens trained for another model, naming both."""
        tensors, meta = load_tensors(path, "tuned_lens", lm.fingerprint)
        lens = cls(lm.n_layers, lm.hidden_size, lm.fingerprint, meta)
        load_state(lens, tensors, path, "tuned lens")
        return lens.to(lm.device, lm.dtype)
