"""StreamingLLM: keep the first few tokens (attention sinks) and the most recent window."""

from dataclasses import dataclass
from typing import ClassVar

from latentspace.memory.presses.base import SLOTS, Press
from latentspace.memory.presses.registry import register

SINK = 1e9  # above any recency rank


@register
@dataclass
class StreamingPress(Press):
    name = "streaming"
    per_layer = False
    sinks: int = 4
    RANGES: ClassVar[dict] = {"sinks": SLOTS}

    def score_positions(self, seq):
        order = seq.mask.long().cumsum(1) - 1  # rank among the row's real slots: later is kept first
        score = order.float()
        if seq.start == 0:  # the sequence's own first tokens are in this pass
            score = score.masked_fill((order < self.sinks) & (seq.mask > 0), SINK)
        return score
