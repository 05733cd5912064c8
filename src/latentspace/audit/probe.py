"""Probing: a linear probe from each thought's input vector to the step's gold value — and one to
the final answer, which tells a thought that holds its step from one that already holds the
result — each scored on held-out items beside the same probe fitted on shuffled labels
(`lens.probes.fit_probe`). Only the gap over the control counts: a linear map on d dimensions fits
a lot. A numeric step whose values hold under 3 items each (arithmetic's results) is probed by ridge
regression, scored by R² (floored at 0 in the gap), since its classes would hold an item or two each. Where the recording holds the residual stream per layer, the step's probe is also fitted at
every layer of the position the thought was computed at (``by_layer``: layer -> gap over control),
which shows where in depth the value is formed."""

from __future__ import annotations

from latentspace.audit.record import Recording
from latentspace.audit.values import gold
from latentspace.core.errors import LatentspaceError
from latentspace.lens.probes import fit_probe
from latentspace.tasks import Item


def thought_labels(items: list[Item], rec: Recording, t: int) -> tuple[list[int], list[str]]:
    rows = [j for j in range(len(items)) if t < rec.counts[j]]
    return rows, [gold(items[j], t) for j in rows]


FEWEST_PER_CLASS = 3  # a numeric step with thinner classes is probed by ridge regression (R²) instead
TEST_FRACTION = 0.25  # fit_probe's default held-out share: the classes are counted in what is left to fit on


def as_targets(labels: list[str]) -> tuple[list, str]:
    """Labels as a probe reads them: numbers whose values hold under 3 training items each on average as floats
    (regression: arithmetic's step results), else classes (MNNS's partial sums, ProsQA's nodes)."""
    try:
        numbers = [float(v) for v in labels]
    except (TypeError, ValueError):
        return labels, "classification"
    if len(labels) * (1 - TEST_FRACTION) < FEWEST_PER_CLASS * len(set(numbers)):  # counted in the training split
        return numbers, "regression"
    return labels, "classification"


def probe(items: list[Item], rec: Recording, seed: int = 0, fitted: dict | None = None) -> list[dict]:
    """``fitted``: filled with each thought's step probe (thought number -> `LinearProbe`), to save."""
    per_thought = []
    for t in range(rec.slots):
        rows, labels = thought_labels(items, rec, t)
        if len(set(labels)) < 2 or len(rows) < 8:
            per_thought.append({"thought": t + 1, "n": len(rows), "skipped": "fewer than 2 values or 8 items"})
            continue
        targets, kind = as_targets(labels)
        answers, answer_kind = as_targets([items[j].answer for j in rows])
        try:
            step_probe, score = fit_probe(rec.vectors[rows, t], targets, task=kind, seed=seed)
            answer = (fit_probe(rec.vectors[rows, t], answers, task=answer_kind, seed=seed)[1]
                      if len(set(answers)) > 1 else None)
        except LatentspaceError as err:
            per_thought.append({"thought": t + 1, "n": len(rows), "skipped": str(err)})
            continue
        if fitted is not None:
            fitted[t + 1] = step_probe
        row = {"thought": t + 1, "n": len(rows), "classes": len(set(labels)), "kind": kind, "test": score.test,
               "control": score.control, "gap": gap(score),
               "answer_gap": None if answer is None else gap(answer)}
        if rec.layers is not None:
            row["by_layer"] = layer_gaps(rec, rows, t, targets, kind, seed)
            best = max(row["by_layer"], key=row["by_layer"].get)
            row["best_layer"], row["best_layer_gap"] = best, row["by_layer"][best]
        per_thought.append(row)
    return per_thought


def layer_gaps(rec: Recording, rows: list[int], t: int, targets: list, kind: str, seed: int) -> dict[int, float]:
    gaps = {}
    for index, layer in enumerate(rec.layer_ids):
        _, score = fit_probe(rec.layers[rows, t, index], targets, task=kind, seed=seed)
        gaps[layer] = gap(score)
    return gaps


def gap(score) -> float:
    """Held-out score over the control's. A regression R² below 0 (worse than predicting the mean,
    which a ridge on few items in many dimensions often is) reads nothing: it counts as 0, so two
    failing fits cannot make a gap."""
    if score.task == "regression":
        return max(score.test, 0.0) - max(score.control, 0.0)
    return score.test - score.control
