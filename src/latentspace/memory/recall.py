"""Put memories back into a working memory: one as an exact prefix, several side by side.

Several memories were each encoded alone, from position 0. Read together, the second one must
sit after the first: its keys are rotated forward by the first one's length (rotary models; the
rotation of position p + d is the rotation of p followed by that of d), and its chat opening is
dropped (the first memory's opening serves for all). What cannot be recovered is attention
*between* documents — each was read without the others — so answers can differ from re-reading
them together (CacheBlend and TurboRAG measure the same gap; docs/memory.md has ours).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import torch

from latentspace.core.errors import LatentspaceError
from latentspace.memory.presses.base import rotary_module
from latentspace.memory.presses.view import rotate
from latentspace.model import kv
from latentspace.model.state import LatentState

if TYPE_CHECKING:  # the type only: no import at run time
    from latentspace.model.latent_model import LatentModel


def shift(lm: LatentModel, state: LatentState, delta: int) -> LatentState:
    """The same memory read ``delta`` positions later."""
    rotary = rotary_module(lm)
    if rotary is None:
        raise LatentspaceError(f"{lm.name} has absolute positions: its memories cannot be moved; "
                               "recall one memory at a time or re-read the documents together")
    pairs = kv.to_tensors(state.cache)
    probe = pairs[0][0]
    cos, sin = rotary(probe, torch.full((1, 1), delta, device=probe.device, dtype=torch.long))
    if cos.shape[-1] != probe.shape[-1]:
        raise LatentspaceError(f"{lm.name} rotates only part of each head; moving its memories is not supported")
    cos, sin = cos[:, None].to(probe.dtype), sin[:, None].to(probe.dtype)  # [1, 1, 1, D]
    moved = kv.from_tensors([(rotate(k, cos, sin), v) for k, v in pairs])
    return replace(state, cache=moved, next_position=state.next_position + delta, consumed=False)


def combine(lm: LatentModel, states: list[LatentState], opening: torch.Tensor) -> LatentState:
    """One working memory holding every state in order; a later state that starts with the
    ``opening`` ids (its chat opening; a press may have cut into it, then it stays) loses them.
    The last state's logits and hidden state are the combination's."""
    if not states:
        raise LatentspaceError("no memories to recall")
    if any(s.batch_size != 1 for s in states):
        raise LatentspaceError("memories are single documents (batch of one)")
    parts = [states[0]]
    for state in states[1:]:
        n = len(opening)
        n = n if state.length > n and torch.equal(state.ids[0, :n].cpu(), opening.cpu()) else 0
        body = replace(state, cache=kv.select(state.cache, torch.arange(n, state.length)),
                       ids=state.ids[:, n:], attention_mask=state.attention_mask[:, n:])
        parts.append(shift(lm, body, int(parts[-1].next_position[0]) - n))
    return LatentState(
        cache=kv.concat([p.cache for p in parts]), ids=torch.cat([p.ids for p in parts], 1),
        attention_mask=torch.cat([p.attention_mask for p in parts], 1), next_position=parts[-1].next_position,
        logits=parts[-1].logits, hidden=parts[-1].hidden, owner=lm,
    )
