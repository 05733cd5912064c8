"""Tour: feed continuous thoughts back as inputs (Coconut-style, untrained) and read each one."""

from __future__ import annotations

import time
from pathlib import Path

from latentspace.trace import Step, Trace, read_logits
from latentspace.tour.section import SectionResult

QUESTION = "What is the capital of France?"
N_THOUGHTS = 3


def latent_step(lm, out: Path) -> SectionResult:
    started = time.perf_counter()
    state = lm.encode(QUESTION, chat=True)
    trace = Trace(prompt=QUESTION, strategy="continuous (ridge alignment, untrained)", model=lm.name)
    for _ in range(N_THOUGHTS):
        thought = lm.align(state.hidden, "ridge")
        entropy, top = read_logits(state.logits[0], lm.tokenizer, k=5)  # what the thought "says"
        state = lm.step(state, thought)
        trace.steps.append(Step("latent", norm=float(thought.norm()), entropy=entropy, top=top))
    positions = state.length
    result = lm.decode(state, max_new_tokens=24)
    trace.text, trace.stop_reason = result.texts[0].strip(), result.stop_reasons[0]
    trace.positions, trace.wall_seconds = positions + result.n_tokens, time.perf_counter() - started
    rows = [{"step": i, "norm": round(s.norm, 3), "entropy": round(s.entropy, 3),
             "lens top-3": ", ".join(f"{t!r} {p:.2f}" for t, p in s.top[:3])} for i, s in enumerate(trace.steps)]
    summary = (f"{N_THOUGHTS} last-layer hidden states were mapped into the input-embedding space (ridge) and fed "
               f"back without sampling a token; each row shows what the model's own head reads in it. Then the "
               f"model answered in text: {trace.text!r}. A model not trained for latent thoughts is not expected to benefit "
               f"from latent thoughts; trained ones are (see the training capability).")
    return SectionResult("Continuous thoughts", summary, rows, data={"trace": trace.to_dict()})
