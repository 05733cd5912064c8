"""Chunked press: keep the same share of every ``chunk`` consecutive slots (counted from a row's first token).

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
        # Chunks count from each row's first real slot, as the row alone counts them: a left-padded row's
        # padding is rolled to its end, the chunks are chosen, and the choice is rolled back (padding first).
        n = mask.shape[1]
        first = (mask != 0).long().argmax(1)
        rolled = (torch.arange(n, device=mask.device) + first[:, None]) % n
        scores = scores.gather(-1, rolled.to(scores.device)[:, None, :].expand_as(scores))
        mask = mask.gather(1, rolled)
        offsets = range(0, n, self.chunk)
        parts = [keep_top(scores[..., s:s + self.chunk], mask[:, s:s + self.chunk], self.ratio) for s in offsets]
        index = torch.cat([ix + s for (ix, _), s in zip(parts, offsets)], -1)
        index = (index + first.to(index.device)[:, None, None]) % n
        kept = torch.cat([m for _, m in parts], -1)
        order = kept.argsort(dim=-1, stable=True)  # the padding slots first, the kept slots in their order
        return index.gather(-1, order.to(index.device)[:, None, :].expand_as(index)), kept.gather(-1, order)

    def __str__(self) -> str:
        return f"chunked({self.press}, {self.chunk})"
