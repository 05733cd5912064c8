"""A map as a communication channel: the sharer's states of a context, mapped into the receiver's
input-embedding space, read by the receiver as continuous inputs before the question.

This is LatentMAS-Hybrid's cross-model hand-over in its simplest form: one mapped vector per sharer
token of the context, after a short text header. A map from an early sharer block mostly carries
the tokens themselves (a text relay in vectors); from a late block, the sharer's predictions —
whether a linear map keeps them readable is what `benchmarks/bench_bridge_talk.py` measures (the
anchor found it collapsing: 2.2 against a text relay's 68.9).
"""

from __future__ import annotations

import torch

from latentspace.bridge.hidden_map import LayerMap
from latentspace.bridge.pairs import lead, states

HEADER = "Notes:"


def channel_answer(sharer, receiver, layer_map: LayerMap, sharer_layer: int, context: str, question: str,
                   max_new_tokens: int = 6) -> tuple[str, int]:
    """(the receiver's greedy answer, positions both models processed) for one context and question."""
    s_lead = lead(sharer.tokenizer)
    s_ids = s_lead + sharer.tokenizer.encode(context, add_special_tokens=False)
    read = states(sharer, s_ids, [sharer_layer])[sharer_layer][len(s_lead):]
    with torch.no_grad():
        mapped = layer_map(read)
    header = lead(receiver.tokenizer) + receiver.tokenizer.encode(HEADER, add_special_tokens=False)
    state = receiver.encode(torch.tensor([header]))
    state = receiver.step(state, mapped[None])
    tail = receiver.tokenizer.encode("\n" + question, add_special_tokens=False)
    state = receiver.feed(state, torch.tensor([tail]))
    result = receiver.decode(state, max_new_tokens=max_new_tokens)
    return result.texts[0], len(s_ids) + len(header) + len(mapped) + len(tail) + len(result.token_ids[0])


def channel_memory(receiver, mapped: torch.Tensor, mask: torch.Tensor):
    """A receiver working memory made of mapped vectors ``[B, T, d]`` (``mask`` 0 = a pad slot), after
    the same short header: what a pipeline hands to an agent on another model through a map."""
    header = lead(receiver.tokenizer) + receiver.tokenizer.encode(HEADER, add_special_tokens=False)
    state = receiver.encode(torch.tensor([header] * mapped.shape[0]))
    return receiver.step(state, mapped, mask=mask)
