"""The audit of one question, thought by thought (the Latent Explorer's audit view): what the lens
reads at each thought, the probe's reading (when a probe is given), and the answer when that thought
is removed (thinking cut before it) or replaced by noise of its own norm."""

from __future__ import annotations

import torch

from latentspace.audit.necessity import equal_norm_noise, replacing
from latentspace.audit.record import record
from latentspace.tasks import Item


def thought_by_thought(subject, item: Item, decode, k: int = 5, probe=None, seed: int = 0) -> dict:
    """``decode(token_id) -> str`` names the lens tokens; ``probe`` (a `LinearProbe`) reads each thought."""
    rec = record(subject, [item])
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
        if probe is not None:
            row["probe"] = probe.predict(rec.vectors[0, t][None])[0] if probe.task != "regression" else float(
                probe.predict(rec.vectors[0, t][None])[0])
        rows.append(row)
    intact = rec.rows[0]
    return {"answer": intact.get("extracted"), "correct": intact.get("correct"), "thoughts": rows}
