"""Where a picture enters the language model: ``PICTURE`` placeholder tokens whose input embeddings are
replaced by the patch encoder's tokens (LLaVA's way), so a sequence stays one list of ids — the
curriculum, the collate and the thought slots work on it unchanged — and only the embedding step
knows the picture.

    ids = [picture] * 16 + plan ids ...
    embeds = fill_pictures(embedding(ids), ids, picture_id, PatchEncoder(width)(images))
"""

from __future__ import annotations

import torch

from latentspace.core.errors import LatentspaceError

PICTURE = "<|picture|>"


def fill_pictures(embeds: torch.Tensor, ids: torch.Tensor, picture_id: int, tokens: torch.Tensor) -> torch.Tensor:
    """``embeds`` ``[B, T, d]`` with row b's ``PICTURE`` columns, in order, holding ``tokens[b]`` (``[B, P, d]``).

    Every row must hold exactly P placeholders; gradients flow into ``tokens`` (the encoder trains
    with the model). A new tensor: ``embeds`` is not changed in place."""
    where = ids == picture_id
    counts = where.sum(1)
    if tokens.dim() != 3 or tokens.shape[0] != ids.shape[0] or tokens.shape[2] != embeds.shape[2]:
        raise LatentspaceError(f"picture tokens must be [{ids.shape[0]}, P, {embeds.shape[2]}], not {tuple(tokens.shape)}")
    if not bool((counts == tokens.shape[1]).all()):
        raise LatentspaceError(f"every row needs {tokens.shape[1]} {PICTURE} tokens for its picture; rows hold "
                               f"{sorted(set(counts.tolist()))[:6]}")
    return embeds.masked_scatter(where[..., None], tokens.to(embeds.dtype))
