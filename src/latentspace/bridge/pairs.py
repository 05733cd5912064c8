"""Paired hidden states: the same texts through two models, matched where both end a token.

At a shared token end both models have read exactly the same characters, so their block outputs
there are two descriptions of one prefix — the pairs a map between hidden spaces is fitted on.
The first pair of each text is dropped: the first positions of a sequence carry the very large
"attention sink" activations, which would dominate a least-squares fit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from latentspace.bridge.align import align_text
from latentspace.core.errors import LatentspaceError

if TYPE_CHECKING:  # the type only: no import at run time
    from latentspace.model.latent_model import LatentModel


@dataclass
class Paired:
    """``sharer[l]`` ``[N, d_s]`` and ``receiver[l]`` ``[N, d_r]``, row i of both the same prefix;
    ``text_of[i]`` the text each pair came from (held-out splits go by text, not by pair)."""

    sharer: dict[int, torch.Tensor]
    receiver: dict[int, torch.Tensor]
    text_of: torch.Tensor

    def __len__(self) -> int:
        return len(self.text_of)


def lead(tokenizer) -> list[int]:
    """The special ids a tokenizer puts before every text (Gemma's <bos>; none for SmolLM2)."""
    return list(tokenizer("", add_special_tokens=True)["input_ids"])


EMBED = -1  # a receiver "layer" meaning its input embeddings: the space a model reads (a channel's target)


def states(lm: LatentModel, ids: list[int], layers: list[int]) -> dict[int, torch.Tensor]:
    """Block outputs ``[T, d]`` (float32, CPU) of one id sequence; ``EMBED``: the input embeddings."""
    blocks = [layer for layer in layers if layer != EMBED]
    out = {}
    if blocks:
        rec = lm.record(torch.tensor([ids]), [("resid_post", layer) for layer in blocks])
        out = {layer: rec["resid_post", layer][0].float().cpu() for layer in blocks}
    if EMBED in layers:
        out[EMBED] = lm.embed(torch.tensor([ids]))[0].float().cpu()
    return out


def paired_states(sharer, receiver, texts: list[str], pairs: list[tuple[int, int]], max_tokens: int = 512,
                  progress=None) -> Paired:
    """Paired block outputs at every shared token end of ``texts`` (``pairs``: (sharer, receiver) blocks)."""
    s_layers = sorted({s for s, _ in pairs})
    r_layers = sorted({r for _, r in pairs})
    s_out: dict[int, list] = {layer: [] for layer in s_layers}
    r_out: dict[int, list] = {layer: [] for layer in r_layers}
    text_of: list[int] = []
    s_lead, r_lead = lead(sharer.tokenizer), lead(receiver.tokenizer)
    for t, text in enumerate(texts):
        s_ids, r_ids, alignment = align_text(sharer.tokenizer, receiver.tokenizer, text)
        ends = [(i, j) for i, j in alignment.shared_ends()[1:] if i < max_tokens and j < max_tokens]
        if ends:
            s_states = states(sharer, s_lead + s_ids[:max_tokens], s_layers)
            r_states = states(receiver, r_lead + r_ids[:max_tokens], r_layers)
            rows_s = torch.tensor([len(s_lead) + i for i, _ in ends])
            rows_r = torch.tensor([len(r_lead) + j for _, j in ends])
            for layer in s_layers:
                s_out[layer].append(s_states[layer][rows_s])
            for layer in r_layers:
                r_out[layer].append(r_states[layer][rows_r])
            text_of += [t] * len(ends)
        if progress is not None:
            progress(t + 1)
    if len(text_of) < 2:
        raise LatentspaceError("the two models share no token ends on these texts: nothing to align "
                               "(give longer texts in a script both tokenizers read)")
    return Paired({k: torch.cat(v) for k, v in s_out.items()}, {k: torch.cat(v) for k, v in r_out.items()},
                  torch.tensor(text_of))
