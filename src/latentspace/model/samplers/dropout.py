"""`dropout:P` — MC-dropout during the thought steps only (LatentTTS): every dropout module of the model
drops at rate P while a thought's slot is stepped, and is back to its own rate and mode afterwards.

The thought's input itself is untouched (``draw`` is the identity); the randomness is in the pass that
computes the *next* state. Attention-probability dropout inside fused attention follows the attention
module's own mode and stays off. Draws come from torch's global generator: seed it (``train eval``
does) to repeat them. No tractable density, so not an RL policy here.
"""

from contextlib import contextmanager
from dataclasses import dataclass
from typing import ClassVar

import torch

from latentspace.core.errors import LatentspaceError
from latentspace.core.named import between
from latentspace.model.samplers.base import Drawn, ThoughtSampler, register


@register
@dataclass
class DropoutSampler(ThoughtSampler):
    p: float = 0.1
    name = "dropout"
    parameter = "p"
    scored = False
    RANGES: ClassVar[dict] = {"p": between(0, 0.95)}

    def draw(self, mean, logits, table, generator=None) -> Drawn:
        return Drawn(mean, mean)

    @contextmanager
    def stepping(self, model: torch.nn.Module):
        layers = [m for m in model.modules() if isinstance(m, torch.nn.Dropout)]
        if not layers:  # e.g. Llama-family models drop attention weights functionally: nothing to switch on
            raise LatentspaceError(f"{type(model).__name__} has no dropout layers to switch on; sample with "
                                   "noise:SIGMA (or gumbel:TAU / mts:K on token mixtures)")
        saved = [(m.p, m.training) for m in layers]
        try:
            for m in layers:
                m.p, m.training = self.p, True
            yield
        finally:
            for m, (p, training) in zip(layers, saved):
                m.p, m.training = p, training
