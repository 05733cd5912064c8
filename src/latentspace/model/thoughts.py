"""The one thought loop: after the question, ``<|start-latent|>``, n thoughts, ``<|end-latent|>``.

Evaluation of trained recipes (`train.evaluate`), the superposition analysis (`train.studies.analysis`)
and the `continuous` strategy (`reason.continuous`) all think this way; they differ only in what a
thought's input is (the fed-back state, a projection of it, a softmax mix of embeddings, the
``<|latent|>`` embedding) and in how a slot is stepped (plainly, or through a strategy's guards),
so those are the arguments.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from typing import TYPE_CHECKING

import torch

from latentspace.model.state import LatentState

if TYPE_CHECKING:  # the type only: no import at run time
    from latentspace.model.latent_model import LatentModel


def think(lm: LatentModel, state: LatentState, counts: torch.Tensor | int,
          next_input: Callable[[LatentState, int], torch.Tensor],
          markers: tuple[int, int] | None = None, step: Callable | None = None,
          stop: Callable[[], bool] | None = None, marker_mask: torch.Tensor | None = None,
          opened: bool = False, step_context: Callable | None = None) -> LatentState:
    """Feed the start marker, up to ``counts`` thoughts per row, the end marker; return the state.

    ``counts`` is one number or one per row (a row with fewer thoughts sits the later slots out).
    ``next_input(state, i)`` gives thought i's input vectors ``[B, d]``; ``step(state, vectors, i)``
    replaces the plain `LatentModel.step` (a strategy's guarded step); ``stop()`` ends the loop
    early; ``marker_mask`` ``[B, 1]`` feeds the markers only to some rows (the others get masked
    slots, as in a batch of agents); ``opened``: the start marker was part of the encoded prompt.
    """
    per_row = not isinstance(counts, int)
    counts = counts if per_row else torch.full((state.batch_size,), counts)
    if markers and not opened:
        state = lm.feed(state, torch.full((state.batch_size, 1), markers[0], device=lm.device), mask=marker_mask)
    for i in range(int(counts.max()) if counts.numel() else 0):
        if stop is not None and stop():
            break
        vectors = next_input(state, i)
        with step_context() if step_context is not None else nullcontext():
            if step is not None:
                state = step(state, vectors, i)
            else:
                state = lm.step(state, vectors, rows=(counts > i).to(lm.device) if per_row else None)
    if markers:
        state = lm.feed(state, torch.full((state.batch_size, 1), markers[1], device=lm.device), mask=marker_mask)
    return state
