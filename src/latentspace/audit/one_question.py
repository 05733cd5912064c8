"""The audit of one question, thought by thought (the Latent Explorer's audit view): what the lens
reads at each thought, a saved probe's reading (`latentspace.audit.saved_probe`: of the thought
vector, or of its layer's stream at the thought's position), and the answer when that thought is
removed (thinking cut before it) or replaced by noise of its own norm."""

from __future__ import annotations

import torch

from latentspace.audit.necessity import equal_norm_noise, replacing
from latentspace.audit.record import record
from latentspace.audit.saved_probe import probe_layer, read_thought
from latentspace.tasks import Item


def thought_by_thought(subject, item: Item, decode, k: int = 5, reader=None, seed: int = 0) -> dict:
    """``decode(token_id) -> str`` names the lens tokens; ``reader`` (probe, meta) reads each thought."""
    layer = None if reader is None else probe_layer(reader[1])  # a probe of no thought site: refused first
    rec = record(subject, [item], layers=layer is not None, also=() if layer is None else (layer,))
    noise = equal_norm_noise(torch.Generator().manual_seed(seed))
    rows = []
    for t in range(int(rec.counts[0])):
        reading = rec.logprobs[0, t].exp()
        top = reading.topk(min(k, reading.numel()))
        removed = subject.answer([item], limit=t)[0]
        noised = subject.answer([item], edit=replacing(t, noise))[0]
        row = {"thought": t + 1, "lens": [[decode(int(i)), round(float(p), 4)] for p, i in zip(top.values, top.indices)],
               "norm": float(rec.vectors[0, t].norm()), "answer_removed": removed.get("extracted"),
               "answer_noised": noised.get("extracted")}
        if reader is not None:
            row["probe"] = read_thought(*reader, rec, [0], t)[0]
        rows.append(row)
    intact = rec.rows[0]
    return {"answer": intact.get("extracted"), "correct": intact.get("correct"), "thoughts": rows}
