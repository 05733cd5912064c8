"""Compress a working memory after the fact (a finished `LatentState`), e.g. before handing it on.

Only presses that need nothing but the cache itself work here — the queries and logits of the
pass that wrote it are gone: ``knorm``, ``keydiff`` and ``streaming``. The others say so.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import torch

from latentspace.core.errors import LatentspaceError
from latentspace.memory.presses.base import Press, SequenceView, apply_choices
from latentspace.memory.presses.view import LayerView
from latentspace.model import kv
from latentspace.model.state import LatentState, PRESSED_ID

if TYPE_CHECKING:  # the type only: no import at run time
    from latentspace.model.latent_model import LatentModel

KEY_ONLY = ("knorm", "keydiff", "streaming")


def decode_shrink(press: Press | None = None):
    """What `decode(max_cache=N, shrink=...)` calls whenever the cache grows past N: ``press`` (a
    key-only one; default ``streaming``, StreamingLLM's sinks + recent tokens) cuts it to 3/4 of N."""
    from latentspace.memory.presses import get_press

    chosen = get_press("streaming", 0.5) if press is None else press

    def shrink(lm: LatentModel, state: LatentState, max_cache: int) -> LatentState:
        target = max_cache - max_cache // 4  # a quarter of room: the next cut is a while away
        return compress_state(lm, state, replace(chosen, ratio=1 - target / state.length))
    return shrink


def compress_state(lm: LatentModel, state: LatentState, press: Press) -> LatentState:
    """A new state holding ``press``'s choice of every row's slots; consumes ``state``."""
    state.check_usable()
    if press.probe or press.needs_logprobs or press.name not in KEY_ONLY and press.name != "chunked":
        raise LatentspaceError(f"press {press.name!r} needs the pass that wrote the memory; after the fact "
                               f"use one of: {', '.join(KEY_ONLY)}")
    cache = kv.clone(state.cache)
    layers, mask = cache.layers, state.attention_mask
    with torch.no_grad():
        if press.per_layer:
            views = [LayerView(i, layer.keys, layer.values, 0, mask, lm.sites.module("attn_out", i))
                     for i, layer in enumerate(layers)]
            choices = [press.select(press.score(v).float(), mask) for v in views]
        else:
            scores = press.score_positions(SequenceView(None, mask, 0)).float()
            choice = press.select(scores[:, None].expand(-1, layers[0].keys.shape[1], -1), mask)
            choices = [choice] * len(layers)
    kept_mask, kept_ids = apply_choices(cache, 0, choices, state.ids)
    state.consumed = True
    ids = torch.full_like(kept_mask, PRESSED_ID) if kept_ids is None else kept_ids
    ids = ids.to(state.ids.device).masked_fill(kept_mask == 0, lm.tokenizer.pad_token_id)
    return replace(state, cache=cache, ids=ids, attention_mask=kept_mask.to(mask.dtype), consumed=False)
