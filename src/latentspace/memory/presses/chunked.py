"""Chunked press: keep the same share of every ``chunk`` consecutive slots.

A whole-context score can spend the budget on one region (SnapKV on the end, H2O on the start);
cutting the choice into chunks keeps every part of a long document represented. Scores still
come from the inner press over the whole context.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from latentspace.core.errors import LatentspaceError
from latentspace.core.named import between
from latentspace.memory.presses.base import Press, keep_top
from latentspace.memory.presses.registry import register


@register
@dataclass
class ChunkedPress(Press):
    name = "chunked"
    press: Press | None = None
    chunk: int = 256
    RANGES: ClassVar[dict] = {"chunk": between(1, 1_000_000)}

    def __post_init__(self) -> None:
        if self.press is None:
            raise LatentspaceError("chunked press needs an inner press")
        if self.chunk < 1:
            raise LatentspaceError(f"chunk must be at least 1, got {self.chunk}")
        self.ratio = self.press.ratio
        super().__post_init__()

    @property
    def per_layer(self) -> bool:  # type: ignore[override]
        return self.press.per_layer

    @property
    def needs_logprobs(self) -> bool:  # type: ignore[override]
        return self.press.needs_logprobs

    def score(self, view):
        return self.press.score(view)

    def score_positions(self, seq):
        return self.press.score_positions(seq)

    def select(self, scores, mask):
        parts = [keep_top(scores[..., s:s + self.chunk], mask[:, s:s + self.chunk], self.ratio)
                 for s in range(0, mask.shape[1], self.chunk)]
        offsets = range(0, mask.shape[1], self.chunk)
        index = torch.cat([ix + off for (ix, _), off in zip(parts, offsets)], -1)
        return index, torch.cat([m for _, m in parts], -1)

    def __str__(self) -> str:
        return f"chunked({self.press}, {self.chunk})"
