"""A saved probe read at every thought: one an audit saved (``--out DIR`` writes
``DIR/probes/thought-T.safetensors``) or one `latentspace probe fit --out` fitted on text.

An audit's probe reads the thought vectors themselves (site ``thought``); a `probe fit` probe reads
the residual stream of its own layer at the position each thought was computed at. Per thought: the
most common reading and how often the reading is the step's gold value, split by answered-correctly
vs not. A probe of another model is refused by its fingerprint when it is loaded.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from latentspace.audit.probe import thought_labels
from latentspace.audit.record import Recording
from latentspace.core.errors import LatentspaceError
from latentspace.lens.probes import LinearProbe
from latentspace.tasks import Item

THOUGHT_SITE = "thought"  # a probe of thought vectors (not of a layer's residual stream)


def probe_layer(meta: dict) -> int | None:
    """The layer whose residual stream the probe reads (None: the thought vectors)."""
    site = meta.get("site")
    if site == THOUGHT_SITE:
        return None
    if site != "resid_post" or meta.get("position", "last") != "last" or not isinstance(meta.get("layer"), int):
        raise LatentspaceError(f"the saved probe reads {site} ({meta.get('position')}); a thought is read from the "
                               "thought vectors or a layer's resid_post at one position")
    return meta["layer"]


def read_thought(probe: LinearProbe, meta: dict, rec: Recording, rows: list[int], t: int) -> list:
    layer = probe_layer(meta)
    if layer is None:
        x = rec.vectors[rows, t]
    elif rec.layers is None or layer not in rec.layer_ids:
        raise LatentspaceError(f"the saved probe reads layer {layer}, which this recording does not hold")
    else:
        x = rec.layers[rows, t, rec.layer_ids.index(layer)]
    if x.shape[-1] != probe.mean.shape[-1]:
        raise LatentspaceError(f"the saved probe reads {probe.mean.shape[-1]} dimensions; thought {t + 1} has {x.shape[-1]}")
    read = probe.predict(x)
    return [f"{v:.2f}" if probe.task == "regression" else str(v) for v in (read.tolist() if probe.task == "regression"
                                                                            else read)]


def same_value(read: str, gold: str | None, task: str) -> bool:
    """A regression probe reads the value when it lands within 0.5 of it (it rounds to it)."""
    if task != "regression":
        return read == gold
    try:
        return abs(float(read) - float(gold)) < 0.5
    except (TypeError, ValueError):
        return False


def saved_probe(probe: LinearProbe, meta: dict, items: list[Item], rec: Recording) -> list[dict]:
    out = []
    correct = rec.correct
    for t in range(rec.slots):
        rows, gold = thought_labels(items, rec, t)
        if not rows:
            continue
        read = read_thought(probe, meta, rec, rows, t)
        hits = [same_value(r, g, probe.task) for r, g in zip(read, gold)]
        right = [h for h, j in zip(hits, rows) if correct[j]]
        wrong = [h for h, j in zip(hits, rows) if not correct[j]]
        value, count = Counter(read).most_common(1)[0]
        out.append({"thought": t + 1, "n": len(rows), "reads_gold": sum(hits) / len(hits),
                    "reads_gold_correct": sum(right) / len(right) if right else None,
                    "reads_gold_wrong": sum(wrong) / len(wrong) if wrong else None,
                    "most_read": value, "most_read_share": count / len(read)})
    return out


def save_probes(probes: dict[int, LinearProbe], folder: Path, fingerprint: dict, subject: str) -> list[Path]:
    """One file per thought, each loadable only for the model of ``fingerprint``."""
    folder.mkdir(parents=True, exist_ok=True)
    return [probe.save(folder / f"thought-{t}.safetensors", fingerprint,
                       {"site": THOUGHT_SITE, "thought": t, "subject": subject, "label": "step value"})
            for t, probe in sorted(probes.items())]
