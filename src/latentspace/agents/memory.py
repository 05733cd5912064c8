"""Transfer policies: which slots of the working memory an agent hands to the next one.

The working memory is a `LatentState` (KV cache + mask + ids). A policy keeps whole columns
(sequence slots), so each kept key keeps the position it was computed at and the receiver's new
slots continue after the highest position (``next_position`` is unchanged):

- ``full``: everything so far (every earlier agent's prompt and thoughts);
- ``latent``: only the slots filled by continuous thoughts (no prompt text at all);
- ``last``: only the slots of the agent that just finished (its prompt and its thoughts).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import torch

from latentspace.core.errors import LatentspaceError
from latentspace.model import kv
from latentspace.model.state import LatentState

if TYPE_CHECKING:  # the type only: no import at run time
    from latentspace.model.latent_model import LatentModel

POLICIES = ("full", "latent", "last")


def kept_columns(state: LatentState, policy: str, turn_start: int) -> torch.Tensor:
    """Indices of the slots ``policy`` keeps; ``turn_start`` = first slot of the last agent's turn."""
    if policy == "full":
        return torch.arange(state.length)
    if policy == "last":
        return torch.arange(turn_start, state.length)
    if policy == "latent":
        return state.latent_slots().any(0).nonzero().flatten().cpu()
    raise LatentspaceError(f"unknown transfer policy {policy!r}; valid: {', '.join(POLICIES)}")


def hand_over(state: LatentState, policy: str, turn_start: int) -> LatentState:
    """The memory the next agent receives (a new state; ``state`` itself is consumed)."""
    state.check_usable()
    if policy == "full":
        return state
    columns = kept_columns(state, policy, turn_start)
    if columns.numel() == 0:
        raise LatentspaceError(f"policy {policy!r} would pass an empty memory (the agent took no latent steps)")
    state.consumed = True
    index = columns.to(state.ids.device)
    return replace(state, cache=kv.select(state.cache, columns), ids=state.ids[:, index],
                   attention_mask=state.attention_mask[:, index], consumed=False)


def repeat_rows(state: LatentState, times: int) -> LatentState:
    """Each row ``times`` times in a row (row b -> rows b*times ... b*times+times-1); consumes ``state``."""
    return state.pick_rows(torch.arange(state.batch_size).repeat_interleave(times))


def starting_memory(lm: LatentModel, memory: LatentState | None, batch: int) -> LatentState | None:
    """A memory to start from (a shared document, an earlier run's), one copy per question.

    Checked before anything runs: made by this model, not yet advanced, one row or one per question.
    """
    if memory is None:
        return None
    memory.check_usable()
    lm.check_owner(memory)
    if memory.batch_size == batch:
        return memory.fork()
    if memory.batch_size != 1:
        raise LatentspaceError(f"the starting memory has {memory.batch_size} rows for {batch} questions "
                               "(give one row, shared by all, or one per question)")
    return repeat_rows(memory.fork(), batch)
