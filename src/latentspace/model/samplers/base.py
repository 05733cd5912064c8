"""The sampler contract: turn a thought's deterministic input into a random one, and score the draw.

A thought's deterministic input is ``mean`` (``[B, d]``: the fed-back state, or CoT2's softmax mix).
Thoughts that are token mixtures also have the ``logits`` they mix (``[B, V]``) over the input
embedding ``table`` (``[V, d]``); fed-back states have none. A sampler draws the vectors to feed and
the *action* RL needs to score them again under a changed policy (`log_prob`): the drawn token ids
for multi-token sampling, the drawn vectors for Gaussian noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch

from latentspace.core.errors import LatentspaceError
from latentspace.core.named import make_named

SAMPLERS: dict[str, type[ThoughtSampler]] = {}


def register(cls: type[ThoughtSampler]) -> type[ThoughtSampler]:
    SAMPLERS[cls.name] = cls
    return cls


@dataclass
class Drawn:
    vectors: torch.Tensor  # [B, d] what the thought slot is fed
    action: torch.Tensor  # what `log_prob` scores: token ids [B, K] or the vectors themselves


@dataclass
class ThoughtSampler:
    name: ClassVar[str] = "base"
    parameter: ClassVar[str] = ""  # the field a spec's value sets ("mts:4" -> k=4)
    needs_logits: ClassVar[bool] = False  # only for thoughts that are token mixtures (cot2, soft thinking)
    scored: ClassVar[bool] = True  # `log_prob` exists (RL can use it)

    def draw(self, mean: torch.Tensor, logits: torch.Tensor | None, table: torch.Tensor,
             generator: torch.Generator | None = None) -> Drawn:
        raise NotImplementedError

    def log_prob(self, action: torch.Tensor, mean: torch.Tensor, logits: torch.Tensor | None,
                 table: torch.Tensor) -> torch.Tensor:
        """``[B]`` log-probability (or log-density) of ``action`` under the policy giving ``mean``/``logits``,
        differentiable through them: RL's ratio is its difference between two policies."""
        raise LatentspaceError(f"the {self.name} sampler has no tractable log-probability; "
                               f"RL samples with {', '.join(n for n, c in SAMPLERS.items() if c.scored)}")

    def kl(self, mean: torch.Tensor, logits: torch.Tensor | None, ref_mean: torch.Tensor,
           ref_logits: torch.Tensor | None) -> torch.Tensor:
        """``[B]`` KL(this policy's thought distribution || the reference's), differentiable in ``mean``/``logits``."""
        raise LatentspaceError(f"the {self.name} sampler has no tractable KL; RL samples with "
                               f"{', '.join(n for n, c in SAMPLERS.items() if c.scored)}")

    def log_prob_parts(self, action: torch.Tensor, mean: torch.Tensor, logits: torch.Tensor | None,
                       table: torch.Tensor) -> torch.Tensor:
        """``[B, P]``: the log-probability split into the draw's independent parts (MTS: its K tokens), whose
        sum is `log_prob`. RL takes one ratio per part, as GRPO takes one per token."""
        return self.log_prob(action, mean, logits, table)[:, None]

    def check(self, logits: torch.Tensor | None) -> None:
        if self.needs_logits and logits is None:
            raise LatentspaceError(f"the {self.name} sampler draws tokens from a thought's distribution; these thoughts "
                                   "are fed-back states (use noise or dropout)")

    def spec(self) -> str:
        return f"{self.name}:{getattr(self, self.parameter):g}"

    def stepping(self, model: torch.nn.Module):
        """A context manager the thought steps run under (MC-dropout switches dropout on); default: none."""
        from contextlib import nullcontext

        return nullcontext()


def parse_sampler(spec: str) -> ThoughtSampler:
    """``"mts:4"`` -> `MultiTokenSampler(k=4)`; a bad name or value is one line."""
    name, _, value = str(spec).partition(":")
    if name not in SAMPLERS:
        raise LatentspaceError(f"unknown sampler {name[:40]!r}; valid: "
                               + ", ".join(f"{n}:{c.parameter.upper()}" for n, c in sorted(SAMPLERS.items())))
    cls = SAMPLERS[name]
    if not value:
        raise LatentspaceError(f"sampler {name} needs a value: {name}:{cls.parameter.upper()}")
    kind = cls.__dataclass_fields__[cls.parameter].type
    try:
        number = int(value) if kind in ("int", int) else float(value)
    except ValueError:
        raise LatentspaceError(f"sampler {name}: {value[:40]!r} is not a number") from None
    if isinstance(number, float) and not math.isfinite(number):
        raise LatentspaceError(f"sampler {name}: {cls.parameter} must be finite")
    return make_named(SAMPLERS, name, "sampler", {cls.parameter: number})
