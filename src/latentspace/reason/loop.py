"""`loop`: depth expansion without training — re-apply a block of layers r times per token.

A training-free stand-in for recurrent-depth models (Huginn, Ouro): the answer is decoded greedily,
exactly as `direct` decodes it, with blocks ``start..end`` applied ``repeats`` times in every
forward pass (see `model.loop.LayerLoop`). The KV cache works as usual (each extra application
of a block keeps its own cache slots), so a token costs one position, not a recompute of the
sequence; ``trace.meta["layer_applications"]`` counts the extra block runs. ``repeats = 1`` is the
plain model.
"""

from dataclasses import dataclass
from typing import ClassVar

from latentspace.core.errors import LatentspaceError
from latentspace.core.named import above, between
from latentspace.model.loop import LayerLoop
from latentspace.reason.base import ANSWER_ONLY, Reasoner, register
from latentspace.trace import Trace


@register
@dataclass
class Loop(Reasoner):
    start: int = -1  # first looped block (-1: a third of the way in)
    end: int = -1  # last looped block (-1: two thirds of the way in)
    repeats: int = 2
    alpha: float = 1.0  # 1 = replace, < 1 = interpolate with the previous pass
    instruction: str = ANSWER_ONLY
    max_new_tokens: int = 24
    name = "loop"
    # each repeat re-runs the block for every position: bounded like the other budgets
    RANGES: ClassVar[dict] = {"start": between(-1, 10_000), "end": between(-1, 10_000), "repeats": between(1, 64),
                              "alpha": above(0, 1)}

    def block(self, lm) -> tuple[int, int]:
        start, end = (self.start if self.start >= 0 else lm.n_layers // 3,
                      self.end if self.end >= 0 else (2 * lm.n_layers) // 3)
        if end >= lm.n_layers:
            raise LatentspaceError(f"loop block {start}-{end} is out of range: the model has layers "
                                   f"0..{lm.n_layers - 1}")
        return start, end

    def run_batch(self, lm, questions: list[str], seed: int = 0, **where) -> list[Trace]:
        start, end = self.block(lm)
        with LayerLoop(lm.sites, start, end, self.repeats, self.alpha):
            traces = super().run_batch(lm, questions, seed, **where)
        for trace in traces:
            for step in trace.steps:
                step.note = f"blocks {start}-{end} x{self.repeats}"
            # every position fed (the prompt and each answer token but the last) ran the block r - 1 more times
            trace.meta["layer_applications"] = trace.positions * (end - start + 1) * (self.repeats - 1)
        return traces
