"""Tour: the model's next-token distribution after a prompt (top-k and entropy)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch

from latentspace.core.plots import figure, save
from latentspace.tour.section import SectionResult
from latentspace.trace import read_logits

if TYPE_CHECKING:  # the type only: no import at run time
    from latentspace.model.latent_model import LatentModel

PROMPT = "The capital of France is"


def next_token(lm: LatentModel, out: Path) -> SectionResult:
    logits = lm.encode(PROMPT).logits[0]
    entropy, top = read_logits(logits, lm.tokenizer, k=10)
    rows = [{"rank": i + 1, "token": repr(tok), "probability": round(p, 4)} for i, (tok, p) in enumerate(top)]
    fig, ax = figure()
    ax.barh([repr(t) for t, _ in top][::-1], [p for _, p in top][::-1], color="#3b6ea8")
    ax.set_xlabel("probability")
    ax.set_title(f"next token after {PROMPT!r}")
    image = save(fig, out / "next_token.png")
    covered = float(torch.tensor([p for _, p in top]).sum())
    summary = (f"After {PROMPT!r} the most likely next token is {top[0][0]!r} (p={top[0][1]:.2f}); "
               f"the top 10 cover {covered:.0%} of the mass; entropy {entropy:.2f} nats.")
    return SectionResult("Next-token distribution", summary, rows, [image], {"entropy": entropy, "prompt": PROMPT})
