"""Tour: plain generation, single and batched (left-padded), through our decode loop."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from latentspace.tour.section import SectionResult

if TYPE_CHECKING:  # the type only: no import at run time
    from latentspace.model.latent_model import LatentModel

QUESTIONS = ["What is the capital of France?", "Name three primary colors.", "What is 7 times 8?"]


def generation(lm: LatentModel, out: Path) -> SectionResult:
    started = time.perf_counter()
    result = lm.decode(lm.encode(QUESTIONS, chat=True), max_new_tokens=32)
    seconds = time.perf_counter() - started
    rows = [{"question": q, "answer": a.strip(), "tokens": len(t), "stop": r}
            for q, a, t, r in zip(QUESTIONS, result.texts, result.token_ids, result.stop_reasons)]
    summary = (f"Three chat questions decoded greedily as one left-padded batch: {result.n_tokens} tokens "
               f"in {seconds:.2f} s ({result.n_tokens / seconds:.1f} tokens/s on this machine).")
    return SectionResult("Generation", summary, rows, data={"seconds": seconds, "tokens": result.n_tokens})
