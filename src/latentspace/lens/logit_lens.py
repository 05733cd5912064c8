"""Logit lens (and tuned lens): read every layer's residual stream through the model's own head.

Each layer's vector goes through the final norm *with its own statistics*, then the LM head
(`LatentModel.head`). With a tuned lens, a per-layer affine translator is applied first. Only the
summaries are kept per layer (top-k, entropy, KL to the final distribution, target rank), never the
full ``layers × positions × vocab`` tensor, so long prompts fit in memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from latentspace.core.errors import LatentspaceError
from latentspace.model.sites import check_site

if TYPE_CHECKING:
    from latentspace.lens.tuned_lens import TunedLens
    from latentspace.model.latent_model import LatentModel


@dataclass
class LensReading:
    """The lens reading of one prompt. Tensors are ``[layers, positions, ...]``."""

    text_tokens: list[str]  # the input token at each read position
    positions: list[int]  # indices into the prompt's own tokens (padding excluded)
    layers: list[int]
    site: str
    top_ids: torch.Tensor  # [L, P, k]
    top_probs: torch.Tensor  # [L, P, k]
    entropy: torch.Tensor  # [L, P] nats
    kl_to_final: torch.Tensor  # [L, P] KL(final ‖ lens) in nats
    target_prob: torch.Tensor | None = None  # [L, P]
    target_rank: torch.Tensor | None = None  # [L, P], 0 = top-1

    def top_tokens(self, tokenizer) -> list[list[list[str]]]:
        """Decoded top-k tokens, ``[L][P][k]``."""
        return [[[tokenizer.decode([int(i)]) for i in pos] for pos in layer] for layer in self.top_ids]

    def to_dict(self, tokenizer) -> dict:
        out = {
            "site": self.site, "layers": self.layers, "positions": self.positions, "tokens": self.text_tokens,
            "top_tokens": self.top_tokens(tokenizer), "top_probs": self.top_probs.tolist(),
            "entropy": self.entropy.tolist(), "kl_to_final": self.kl_to_final.tolist(),
        }
        if self.target_prob is not None:
            out.update(target_prob=self.target_prob.tolist(), target_rank=self.target_rank.tolist())
        return out


def target_id(lm: LatentModel, target: str | int) -> int:
    """A target token id from an id or a string (its first token)."""
    if isinstance(target, int):
        if not 0 <= target < lm.vocab_size:
            raise LatentspaceError(f"target id {target} out of range 0..{lm.vocab_size - 1}")
        return target
    ids = lm.tokenizer.encode(target, add_special_tokens=False)
    if not ids:
        raise LatentspaceError(f"target {target!r} encodes to no token")
    return ids[0]


def check_context(lm: LatentModel, ids: torch.Tensor) -> None:
    """Refuse a prompt longer than the model's context before the forward pass (tokenizing is cheap;
    a 100k-token forward pass is minutes of work that fails or reads nonsense)."""
    limit = lm.max_positions
    if limit and ids.shape[-1] > limit:
        raise LatentspaceError(f"text of {ids.shape[-1]} tokens is longer than the model's context of {limit} positions")


def logit_lens(
    lm: LatentModel,
    prompts: str | Sequence[str],
    layers: Sequence[int] | None = None,
    positions: Sequence[int] | None = None,
    k: int = 5,
    target: str | int | None = None,
    site: str = "resid_post",
    tuned: TunedLens | None = None,
    chat: bool = False,
) -> list[LensReading]:
    """One `LensReading` per prompt. ``positions`` index each prompt's own tokens (``-1`` = last)."""
    layers = list(range(lm.n_layers)) if layers is None else list(layers)
    if not layers:
        raise LatentspaceError("no layers to read: give at least one (or None for all)")
    for layer in layers:
        check_site(site, layer, lm.n_layers)
    if tuned is not None:
        tuned.check_model(lm)
        if site != "resid_post":
            raise LatentspaceError("a tuned lens reads resid_post only")
    if k < 1:
        raise LatentspaceError("k must be at least 1")
    tid = None if target is None else target_id(lm, target)
    ids, mask = lm.tokenize(prompts, chat=chat)
    check_context(lm, ids)
    with lm.hooks(record=[(site, layer) for layer in layers] + [("unembed", None)]) as rec:
        lm.forward(ids, mask)
    readings = []
    for row in range(ids.shape[0]):
        real = mask[row].nonzero().flatten()
        chosen = _positions(positions, len(real))
        slots = real[chosen]
        final = torch.log_softmax(rec["unembed"][row, slots].float(), -1)
        hidden = torch.stack([rec[site, layer][row, slots] for layer in layers])  # [L, P, d]
        readings.append(_read(lm, hidden, layers, final, k, tid, tuned, site,
                              [lm.tokenizer.decode([int(ids[row, s])]) for s in slots], chosen))
    return readings


def _positions(positions: Sequence[int] | None, n: int) -> list[int]:
    if positions is None:
        return list(range(n))
    out = []
    for p in positions:
        if not -n <= p < n:
            raise LatentspaceError(f"position {p} out of range for a prompt of {n} tokens")
        out.append(p % n)
    return out


def _read(lm: LatentModel, hidden, layers, final, k, tid, tuned, site, tokens, positions) -> LensReading:
    tops, probs, ents, kls, tprob, trank = [], [], [], [], [], []
    with torch.no_grad():
        for i, layer in enumerate(layers):
            h = tuned.translate(hidden[i], layer) if tuned is not None else hidden[i]
            logp = torch.log_softmax(lm.head(h).float(), -1)  # [P, V]
            p = logp.exp()
            top = logp.topk(k, dim=-1)
            tops.append(top.indices)
            probs.append(top.values.exp())
            ents.append(-(p * logp).sum(-1))
            kls.append((final.exp() * (final - logp)).sum(-1).clamp_min(0))
            if tid is not None:
                tprob.append(p[:, tid])
                trank.append((logp > logp[:, tid : tid + 1]).sum(-1))
    stack = torch.stack
    return LensReading(
        text_tokens=tokens, positions=positions, layers=layers, site=site, top_ids=stack(tops),
        top_probs=stack(probs), entropy=stack(ents), kl_to_final=stack(kls),
        target_prob=stack(tprob) if tid is not None else None, target_rank=stack(trank) if tid is not None else None,
    )
