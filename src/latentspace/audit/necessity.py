"""Necessity: does the answer need each thought? (the early-stopping and ablation studies' test)

Accuracy with the thoughts cut after k (k = 0 … n: k = n is the intact run, k = 0 answers with no
thought at all), with thought t replaced by its mean over the items, by Gaussian noise of the same
norm, and with the recorded thoughts fed in a shuffled order. Each variant is split by how the
intact run did: ``kept`` (intact-correct answers still correct) and ``fixed`` (intact-wrong ones
now correct). A thought whose removal costs nothing is padding.
"""

from __future__ import annotations

import torch

from latentspace.audit.record import Recording
from latentspace.audit.subject import Subject, accuracy
from latentspace.tasks import Item


def split(rows: list[dict], intact: torch.Tensor) -> dict:
    now = torch.tensor([bool(r["correct"]) for r in rows])
    right, wrong = intact, ~intact
    return {"accuracy": accuracy(rows),
            "kept": float(now[right].float().mean()) if right.any() else None,
            "fixed": float(now[wrong].float().mean()) if wrong.any() else None}


def replacing(t: int, make):
    """An edit feeding ``make(vectors, rows)`` instead of thought t (the others untouched)."""
    def edit(i, state, vectors, rows):
        return make(vectors, rows) if i == t else vectors
    return edit


def equal_norm_noise(generator: torch.Generator):
    """``make(vectors, rows)``: Gaussian noise with each row's own norm (what a thought is replaced by)."""
    def make(vectors, rows):
        draw = torch.randn(vectors.shape, generator=generator).to(vectors.dtype)
        return draw * (vectors.norm(dim=-1, keepdim=True) / draw.norm(dim=-1, keepdim=True).clamp_min(1e-12))
    return make


def necessity(subject: Subject, items: list[Item], rec: Recording, seed: int = 0) -> dict:
    intact = rec.correct
    out = {"intact": accuracy(rec.rows), "cut": [], "mean": [], "noise": [], "shuffle": None}
    for k in range(rec.slots + 1):
        out["cut"].append({"k": k, **split(subject.answer(items, limit=k), intact)})
    generator = torch.Generator().manual_seed(seed)
    for t in range(rec.slots):
        mean = rec.mean_thought(t)
        out["mean"].append({"thought": t + 1, **split(
            subject.answer(items, edit=replacing(t, lambda v, rows: mean.to(v.dtype).expand_as(v))), intact)})
        out["noise"].append({"thought": t + 1, **split(
            subject.answer(items, edit=replacing(t, equal_norm_noise(generator))), intact)})
    if rec.slots > 1:
        orders = {row: torch.randperm(int(rec.counts[row]), generator=generator) for row in range(len(items))}

        def shuffled(i, state, vectors, rows):
            picked = [rec.vectors[row, orders[row][i]] if i < len(orders[row]) else vectors[r]
                      for r, row in enumerate(rows)]
            return torch.stack(picked).to(vectors.dtype)
        out["shuffle"] = split(subject.answer(items, edit=shuffled), intact)
    return out
