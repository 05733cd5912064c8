"""Decodability: can the gold intermediate value be read at each thought? (vocabulary projection)

Each thought is read as the next-token distribution of the state it was computed from — the
logit lens at the last layer, which for a CoT2 thought *is* the mix it feeds back. Per thought:
the gold value's rank and probability, how often it is top-1 / top-3, and the mass on the whole
value set a search would hold there (all partial sums, the frontier nodes) — split by whether the
answer was right. The published pattern for reasoning thoughts: gold decodable in far more correct
answers than wrong ones.

Where the recording holds each layer's stream at the thought's position, the gold value's top-3
rate is also read at every layer (``by_layer``: the logit lens, final norm and head on that layer;
``by_layer_tuned`` through a tuned lens when one is given) — where in depth the value appears.
"""

from __future__ import annotations

import torch

from latentspace.audit.record import Recording
from latentspace.audit.subject import Subject
from latentspace.audit.values import gold, value_set
from latentspace.core.errors import LatentspaceError
from latentspace.tasks import Item


def decodability(subject: Subject, items: list[Item], rec: Recording, lens=None) -> list[dict]:
    """``lens``: a `TunedLens` of the subject's model, read at every recorded layer too."""
    per_thought = []
    network = subject.network() if rec.layers is not None and hasattr(subject, "network") else None
    for t in range(rec.slots):
        ranks, probs, masses, right, rows, gids = [], [], [], [], [], []
        for row, item in enumerate(items):
            if t >= rec.counts[row]:
                continue
            gid = subject.token_id(gold(item, t) or "")
            if gid is None:
                raise LatentspaceError(f"decodability: item {row}'s value {gold(item, t)!r} is not one token")
            rows.append(row)
            gids.append(gid)
            reading = rec.logprobs[row, t]
            ranks.append(int((reading > reading[gid]).sum()) + 1)
            probs.append(float(reading[gid].exp()))
            ids = [i for i in (subject.token_id(v) for v in value_set(item, t)) if i is not None]
            masses.append(float(reading[ids].exp().sum()) if ids else 0.0)
            right.append(bool(rec.rows[row]["correct"]))
        found = {"thought": t + 1, "n": len(ranks), **summary(ranks, probs, masses, right)}
        if network is not None and rows:
            found["by_layer"] = layer_top3(network, rec, rows, t, gids)
            if lens is not None:
                found["by_layer_tuned"] = layer_top3(network, rec, rows, t, gids, lens)
        per_thought.append(found)
    return per_thought


@torch.no_grad()
def layer_top3(network, rec: Recording, rows: list[int], t: int, gids: list[int], lens=None) -> dict[int, float]:
    """Share of the rows whose gold token is top-3 when thought t's position is read at each layer."""
    model, sites = network
    param = next(model.parameters())
    gold_ids = torch.tensor(gids)
    out = {}
    for index, layer in enumerate(rec.layer_ids):
        hidden = rec.layers[rows, t, index].to(param.device, param.dtype)
        if lens is not None:
            hidden = lens.translate(hidden, layer)
        logits = sites.unembed(sites.final_norm(hidden)).float().cpu()
        gold_logit = logits.gather(1, gold_ids[:, None])
        out[layer] = float(((logits > gold_logit).sum(1) < 3).float().mean())
    return out


def summary(ranks, probs, masses, right) -> dict:
    ranks, right = torch.tensor(ranks, dtype=torch.float), torch.tensor(right, dtype=torch.bool)

    def rate(mask, k):
        return float((ranks[mask] <= k).float().mean()) if mask.any() else None
    return {"gold_prob": sum(probs) / max(1, len(probs)), "gold_rank": float(ranks.mean()) if len(ranks) else None,
            "top1": rate(torch.ones_like(right), 1), "top3": rate(torch.ones_like(right), 3),
            "top3_correct": rate(right, 3), "top3_wrong": rate(~right, 3),
            "set_mass": sum(masses) / max(1, len(masses))}
