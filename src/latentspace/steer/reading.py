"""Read the residual stream of each side of each pair at the chosen layers and token positions.

Positions: ``last`` — the last real token (left padding makes it the last slot of every row);
``mean`` — the mean over every real token; ``completion`` — the mean over the completion only (the
assistant's words of a chat side, or the side's text after a shared prompt), so the prompt that
both sides share does not dilute the contrast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from latentspace.core.errors import LatentspaceError
from latentspace.steer.pairs import Pair, Rendered, render

if TYPE_CHECKING:  # the type only: no import at run time
    from latentspace.model.latent_model import LatentModel

POSITIONS = ("last", "mean", "completion")


def _ids(lm: LatentModel, side: Rendered) -> tuple[list[int], int]:
    """Token ids of a side and how many of them are the completion."""
    prefix = lm.token_ids(side.prefix, add_special_tokens=not side.chat) if side.prefix else []
    completion = lm.token_ids(side.completion, add_special_tokens=not side.prefix) if side.completion else []
    lm.check_fits(len(prefix) + len(completion))
    return prefix + completion, len(completion)


def read_sides(lm: LatentModel, sides: list[Rendered], layers: list[int], position: str = "last",
               batch_size: int = 16) -> dict[int, torch.Tensor]:
    """``{layer: [N, d]}`` float32 activations of ``resid_post`` at each layer."""
    if position not in POSITIONS:
        raise LatentspaceError(f"unknown reading position {position!r}; valid: {', '.join(POSITIONS)}")
    out: dict[int, list[torch.Tensor]] = {layer: [] for layer in layers}
    every = [_ids(lm, s) for s in sides]  # all of it checked (text, length) before the first pass
    for start in range(0, len(sides), batch_size):
        encoded = every[start : start + batch_size]
        if position == "completion" and any(n == 0 for _, n in encoded):
            raise LatentspaceError("position 'completion' needs every side to have a completion "
                                   "(an assistant text, or text after a shared prompt)")
        ids, mask = lm.pad([i for i, _ in encoded])
        rec = lm.record(ids, [("resid_post", layer) for layer in layers],
                        positions="last" if position == "last" else None, attention_mask=mask)
        keep = mask.clone().float()
        if position == "completion":  # only the last n real tokens of each row
            width = ids.shape[1]
            n = torch.tensor([c for _, c in encoded], device=ids.device)
            keep = (torch.arange(width, device=ids.device)[None] >= width - n[:, None]).float()
        for layer in layers:
            h = rec["resid_post", layer].float()
            if position == "last":
                h = h[:, -1]
            else:
                h = (h * keep[:, :, None]).sum(1) / keep.sum(1, keepdim=True)
            out[layer].append(h.cpu())
    return {layer: torch.cat(chunks) for layer, chunks in out.items()}


def read_pairs(lm: LatentModel, pairs: list[Pair], layers: list[int], position: str = "last",
               batch_size: int = 16) -> tuple[dict[int, torch.Tensor], dict[int, torch.Tensor]]:
    """(positive, negative) activations, ``{layer: [N, d]}`` each, row i from pair i."""
    pos = [render(lm, p.positive, p.prompt) for p in pairs]
    neg = [render(lm, p.negative, p.prompt) for p in pairs]
    return (read_sides(lm, pos, layers, position, batch_size), read_sides(lm, neg, layers, position, batch_size))
