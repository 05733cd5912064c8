"""Probing: a linear probe from each thought's input vector to the step's gold value — and one to
the final answer, which tells a thought that holds its step from one that already holds the
result — each scored on held-out items beside the same probe fitted on shuffled labels
(`lens.probes.fit_probe`). Only the gap over the control counts: a linear map on d dimensions fits
a lot. Where the recording holds the residual stream per layer, the step's probe is also fitted at
every layer of the position the thought was computed at (``by_layer``: layer -> gap over control),
which shows where in depth the value is formed."""

from __future__ import annotations

from latentspace.audit.record import Recording
from latentspace.audit.values import gold
from latentspace.errors import LatentspaceError
from latentspace.lens.probes import fit_probe
from latentspace.tasks import Item


def thought_labels(items: list[Item], rec: Recording, t: int) -> tuple[list[int], list[str]]:
    rows = [j for j in range(len(items)) if t < rec.counts[j]]
    return rows, [gold(items[j], t) for j in rows]


def probe(items: list[Item], rec: Recording, seed: int = 0, fitted: dict | None = None) -> list[dict]:
    """``fitted``: filled with each thought's step probe (thought number -> `LinearProbe`), to save."""
    per_thought = []
    for t in range(rec.slots):
        rows, labels = thought_labels(items, rec, t)
        if len(set(labels)) < 2 or len(rows) < 8:
            per_thought.append({"thought": t + 1, "n": len(rows), "skipped": "fewer than 2 values or 8 items"})
            continue
        answers = [items[j].answer for j in rows]
        try:
            step_probe, score = fit_probe(rec.vectors[rows, t], labels, task="classification", seed=seed)
            answer = (fit_probe(rec.vectors[rows, t], answers, task="classification", seed=seed)[1]
                      if len(set(answers)) > 1 else None)
        except LatentspaceError as err:
            per_thought.append({"thought": t + 1, "n": len(rows), "skipped": str(err)})
            continue
        if fitted is not None:
            fitted[t + 1] = step_probe
        row = {"thought": t + 1, "n": len(rows), "classes": len(set(labels)), "test": score.test,
               "control": score.control, "gap": score.test - score.control,
               "answer_gap": None if answer is None else answer.test - answer.control}
        if rec.layers is not None:
            row["by_layer"] = layer_gaps(rec, rows, t, labels, seed)
            best = max(row["by_layer"], key=row["by_layer"].get)
            row["best_layer"], row["best_layer_gap"] = best, row["by_layer"][best]
        per_thought.append(row)
    return per_thought


def layer_gaps(rec: Recording, rows: list[int], t: int, labels: list[str], seed: int) -> dict[int, float]:
    gaps = {}
    for index, layer in enumerate(rec.layer_ids):
        _, score = fit_probe(rec.layers[rows, t, index], labels, task="classification", seed=seed)
        gaps[layer] = score.test - score.control
    return gaps
