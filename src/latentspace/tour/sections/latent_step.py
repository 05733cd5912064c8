"""Tour: feed continuous thoughts back as inputs (Coconut-style, untrained), per alignment method."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from latentspace.lens.maps import trajectory
from latentspace.model.align import METHODS
from latentspace.trace import Step, Trace, read_logits
from latentspace.tour.section import SectionResult

if TYPE_CHECKING:  # the type only: no import at run time
    from latentspace.model.latent_model import LatentModel

QUESTION = "What is the capital of France?"
N_THOUGHTS = 3


def think(lm: LatentModel, question: str, alignment: str, n_thoughts: int, max_new_tokens: int = 24):
    """Encode, take ``n_thoughts`` continuous steps, then answer in text: (trace, thought vectors)."""
    started = time.perf_counter()
    state = lm.encode(question, chat=True)
    trace = Trace(prompt=question, strategy=f"continuous/{alignment}", model=lm.name)
    thoughts = []
    for _ in range(n_thoughts):
        thought = lm.align(state.hidden, alignment, state.logits)
        thoughts.append(thought[0])
        entropy, top = read_logits(state.logits[0], lm.tokenizer, k=5)  # what the thought "says"
        state = lm.step(state, thought)
        trace.steps.append(Step("latent", norm=float(thought.norm()), entropy=entropy, top=top))
    positions = state.length
    result = lm.decode(state, max_new_tokens=max_new_tokens)
    trace.text, trace.stop_reason = result.texts[0].strip(), result.stop_reasons[0]
    trace.positions, trace.wall_seconds = positions + result.n_tokens, time.perf_counter() - started
    return trace, torch.stack(thoughts)


def latent_step(lm: LatentModel, out: Path) -> SectionResult:
    baseline = lm.generate(QUESTION, max_new_tokens=24).strip()
    runs = {method: think(lm, QUESTION, method, N_THOUGHTS) for method in METHODS}
    traces = {method: trace for method, (trace, _) in runs.items()}
    image = trajectory(lm, torch.cat([runs["ridge"][1], runs["soft"][1]]), out / "thought_trajectory.png",
                       labels=[f"ridge {i}" for i in range(N_THOUGHTS)] + [f"soft {i}" for i in range(N_THOUGHTS)])
    rows = [{"alignment": "(no thoughts)", "thought norm": "-", "answer": baseline}]
    rows += [{"alignment": m, "thought norm": f"{t.steps[0].norm:.3g}", "answer": t.text} for m, t in traces.items()]
    steps = traces["ridge"].steps
    reading = "; ".join(f"step {i}: " + ", ".join(f"{tok!r} {p:.2f}" for tok, p in s.top[:3])
                        for i, s in enumerate(steps))
    summary = (f"{N_THOUGHTS} last-layer hidden states are fed back as input vectors before the model answers "
               f"{QUESTION!r}, once per alignment method. The model's own head reads the ridge thoughts as — "
               f"{reading}. Without alignment the fed-back vector is {traces['none'].steps[0].norm:.0f}"
               f" long, far outside the input-embedding range. A model not trained to read its own thoughts is not "
               f"expected to profit from them (Coconut reports gains only after training for it). The picture places "
               f"the ridge and soft thoughts among the token embeddings (PCA of the embeddings).")
    return SectionResult("Continuous thoughts", summary, rows, [image],
                         data={"traces": {m: t.to_dict() for m, t in traces.items()}, "baseline": baseline})
