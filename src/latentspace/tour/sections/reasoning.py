"""Tour: one arithmetic question answered by several reasoning strategies, side by side."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from latentspace.reason import get_reasoner
from latentspace.tasks import get_task
from latentspace.tour.section import SectionResult

if TYPE_CHECKING:  # the type only: no import at run time
    from latentspace.model.latent_model import LatentModel

STRATEGIES = {"direct": {}, "cot": {"max_new_tokens": 96}, "soft": {"max_latent_steps": 4},
              "switch": {"max_latent_steps": 4, "max_explicit_steps": 8}, "pause": {"max_latent_steps": 4}}


def reasoning(lm: LatentModel, out: Path) -> SectionResult:
    task = get_task("arithmetic")
    item = task.generate(1, seed=7)[0]
    rows = []
    for name, options in STRATEGIES.items():
        trace = get_reasoner(name, **options).run(lm, item.question)
        rows.append({"strategy": name, "correct": task.check(trace.text, item), "answer": trace.text.strip()[:80],
                     "latent steps": trace.latent_steps, "tokens": trace.explicit_tokens,
                     "positions": trace.positions, "seconds": round(trace.wall_seconds, 2)})
    right = [r["strategy"] for r in rows if r["correct"]]
    summary = (f"{item.question} (answer {item.answer}). Each strategy thinks its own way, then answers in text; "
               f"correct here: {', '.join(right) or 'none'}. One question proves nothing — `latentspace bench` "
               f"measures strategies over hundreds of items and seeds with confidence intervals.")
    return SectionResult("Reasoning strategies", summary, rows, data={"question": item.to_dict()})
