"""Read vectors that are not tokens (continuous thoughts, transferred KV summaries, directions).

Three readings, each answering a different question:
- ``lens``: what the model's head would say next if this were the last residual-stream state;
- ``nearest``: which input embeddings point the same way (cosine);
- ``patchscope``: what the model *says* the vector is, when it is put in place of the ``?`` of an
  identity prompt ("cat -> cat; 1135 -> 1135; hello -> hello; ? ->") and the model continues.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from latentspace.model.hooks import Intervention, check_vector
from latentspace.trace import read_logits

if TYPE_CHECKING:  # the type only: no import at run time
    from latentspace.model.latent_model import LatentModel

IDENTITY_PROMPT = "cat -> cat; 1135 -> 1135; hello -> hello; ? ->"
PLACEHOLDER = " ?"


@dataclass
class VectorReading:
    norm: float
    lens: list[tuple[str, float]]  # (token, probability)
    nearest: list[tuple[str, float]]  # (token, cosine)
    patchscope: list[tuple[str, float]]  # next-token (token, probability) in the identity prompt
    patchscope_text: str  # what the model goes on to write there

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def nearest_embeddings(lm: LatentModel, vector: torch.Tensor, k: int = 5) -> list[tuple[str, float]]:
    vector = check_vector(vector, lm.hidden_size).to(lm.device, lm.dtype)
    emb = lm.input_embeddings
    cos = (emb @ vector) / (emb.norm(dim=-1) * vector.norm()).clamp_min(1e-12)
    top = cos.topk(k)
    return [(lm.tokenizer.decode([int(i)]), float(c)) for c, i in zip(top.values, top.indices)]


def lens_reading(lm: LatentModel, vector: torch.Tensor, k: int = 5) -> list[tuple[str, float]]:
    vector = check_vector(vector, lm.hidden_size)
    with torch.no_grad():
        return read_logits(lm.head(vector), lm.tokenizer, k)[1]


def _identity_ids(lm: LatentModel, prompt: str) -> tuple[torch.Tensor, int]:
    """Token ids of ``prompt`` with the placeholder as one slot; returns (ids, placeholder slot)."""
    before, _, after = prompt.rpartition(PLACEHOLDER)
    encode = lambda text: lm.tokenizer.encode(text, add_special_tokens=False)  # noqa: E731
    prefix = lm.tokenizer.encode(before) if before else []
    placeholder = encode(PLACEHOLDER)  # its last token is the slot (the space may be its own token)
    ids = prefix + placeholder + encode(after)
    return torch.tensor([ids], device=lm.device), len(prefix) + len(placeholder) - 1


def patchscope(lm: LatentModel, vector: torch.Tensor, layer: int = 0, prompt: str = IDENTITY_PROMPT, k: int = 5,
               max_new_tokens: int = 4) -> tuple[list[tuple[str, float]], str]:
    """Put ``vector`` in place of the placeholder's residual stream entering block ``layer``.

    ``layer=0`` replaces the input embedding (for vectors in embedding space); a hidden state taken
    from block L is usually read best by injecting it at a similar depth.
    """
    vector = check_vector(vector, lm.hidden_size).to(lm.device, lm.dtype)
    ids, slot = _identity_ids(lm, prompt)
    patch = Intervention("resid_pre", layer, "replace", vector, positions=[slot])
    with lm.hooks(interventions=[patch]):
        state = lm.encode(ids)
        top = read_logits(state.logits[0], lm.tokenizer, k)[1]
        text = lm.decode(state, max_new_tokens=max_new_tokens, stop=[";"]).texts[0]
    return top, text


def read_vector(lm: LatentModel, vector: torch.Tensor, k: int = 5, layer: int = 0) -> VectorReading:
    """All three readings of one vector."""
    vector = check_vector(vector, lm.hidden_size)
    top, text = patchscope(lm, vector, layer=layer, k=k)
    return VectorReading(float(vector.norm()), lens_reading(lm, vector, k), nearest_embeddings(lm, vector, k), top, text)
