"""Steering sensitivity: add a direction to thought t at strengths s and see what moves.

The direction is the step's most common value's class direction (mean thought of the items with
that value minus the mean of the others, unit length), scaled by s times the thoughts' mean norm.
Per thought and strength: the share of answers that change from the intact run, the share whose
probe reading of the steered thought becomes that value (a probe fitted on the intact thoughts),
and — the control — the share of answers a random direction of the same norm changes.
"""

from __future__ import annotations

import torch

from latentspace.audit.probe import thought_labels
from latentspace.audit.record import Recording
from latentspace.audit.subject import Subject
from latentspace.lens.probes import fit_linear
from latentspace.tasks import Item, normalise

STRENGTHS = (0.5, 1.0, 2.0, 4.0)


def changed(rows: list[dict], rec: Recording) -> float:
    said = [normalise(r.get("extracted") or "") for r in rows]
    intact = [normalise(r.get("extracted") or "") for r in rec.rows]
    return sum(a != b for a, b in zip(said, intact)) / max(1, len(rows))


def adding(t: int, offset: torch.Tensor, seen: list | None = None):
    def edit(i, state, vectors, rows):
        if i != t:
            return vectors
        steered = vectors + offset.to(vectors.dtype)
        if seen is not None:
            seen.extend(steered[r].detach().float().cpu() for r in range(len(rows)))
        return steered
    return edit


def steering(subject: Subject, items: list[Item], rec: Recording, strengths=STRENGTHS, seed: int = 0) -> list[dict]:
    generator = torch.Generator().manual_seed(seed)
    out = []
    for t in range(rec.slots):
        rows, labels = thought_labels(items, rec, t)
        values = sorted(set(labels), key=lambda v: (-labels.count(v), v))  # ties by name: the same every run
        if len(values) < 2:
            out.append({"thought": t + 1, "skipped": "the step has one value on these items"})
            continue
        x = rec.vectors[rows, t]
        target = values[0]
        hit = torch.tensor([v == target for v in labels])
        direction = x[hit].mean(0) - x[~hit].mean(0)
        direction = direction / direction.norm().clamp_min(1e-12)
        scale = float(x.norm(dim=-1).mean())
        reader = fit_linear(x, labels, "classification")
        random = torch.randn(direction.shape, generator=generator)
        random = random / random.norm().clamp_min(1e-12)
        for s in strengths:
            seen: list = []
            steered = subject.answer(items, edit=adding(t, s * scale * direction, seen))
            reads = reader.predict(torch.stack(seen)) if seen else []
            control = subject.answer(items, edit=adding(t, s * scale * random))
            out.append({"thought": t + 1, "strength": s, "value": target, "answer_changed": changed(steered, rec),
                        "reads_value": sum(r == target for r in reads) / max(1, len(reads)),
                        "control_changed": changed(control, rec)})
    return out
