"""Tour: three experts and a summariser on one question — passing KV memory vs writing text."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from latentspace.agents.pipelines import MODES, load_pipeline, run
from latentspace.tasks import get_task
from latentspace.tour.section import SectionResult

if TYPE_CHECKING:  # the type only: no import at run time
    from latentspace.model.latent_model import LatentModel


def agents(lm: LatentModel, out: Path) -> SectionResult:
    task = get_task("arithmetic")
    item = task.generate(1, seed=7)[0]
    pipeline = load_pipeline("hierarchical")
    rows, readings = [], ""
    for mode in MODES:
        result = run(lm, pipeline, item.question, mode, max_new_tokens=32, agent_tokens=48)
        rows.append({"mode": mode, "correct": task.check(result.texts[0], item),
                     "answer": result.texts[0].strip().replace("\n", " ")[:80],
                     "output tokens": result.output_tokens, "positions": result.processed_positions,
                     "seconds": round(result.seconds, 2)})
        if mode == "latent":  # what the first expert's thoughts read as under the model's own head
            first = result.turns[0]
            readings = f"{first.agent}'s thoughts read (lens top-1) as " + " · ".join(
                repr(s.top[0][0]) for s in first.thoughts[0] if s.top) + ". "
    latent, text = rows[0], rows[1]
    summary = (f"{item.question} (answer {item.answer}). Three experts think in parallel from one shared prefix, "
               f"then a summariser answers. Passing their KV memory (latent) took {latent['output tokens']} output "
               f"tokens and {latent['positions']} positions; the same agents writing text took "
               f"{text['output tokens']} tokens and {text['positions']} positions. {readings}Try: latentspace agents "
               f"\"{item.question}\" --pipeline hierarchical --show")
    return SectionResult("Agents in latent space", summary, rows, data={"question": item.to_dict()})
