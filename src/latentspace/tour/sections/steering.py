"""Tour: steering — read a sentiment direction from 50 built-in pairs, then turn it both ways."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from latentspace.steer import load_pairs, train_vector
from latentspace.steer.evaluate import NEUTRAL_PROMPTS, plot, sweep
from latentspace.steer.scorers import vader
from latentspace.tour.section import SectionResult

if TYPE_CHECKING:  # the type only: no import at run time
    from latentspace.model.latent_model import LatentModel

STRENGTHS = [-0.3, 0.3]


def steering(lm: LatentModel, out: Path) -> SectionResult:
    pairs = load_pairs("sentiment")
    vec = train_vector(lm, pairs, method="mean_diff", concept="sentiment")
    prompts = NEUTRAL_PROMPTS[:3]
    points = sweep(lm, vec, STRENGTHS, vader(), prompts, max_new_tokens=32)
    image = plot(points, out / "steering.png", f"sentiment vector · {lm.name}", "VADER")
    rows = [{"strength": "unsteered" if p.strength is None else f"{p.strength:+g}", "VADER": round(p.effect, 3),
             "perplexity ratio": round(p.perplexity_ratio, 2), "repetition": round(p.repetition, 2),
             f"answer to {prompts[0]!r}": p.texts[0].strip().replace("\n", " ")[:90]} for p in points]
    base, down, up = (p.effect for p in points)
    layers = vec.layers
    summary = (f"A mean-difference vector over layers {layers[0]}-{layers[-1]} from {len(pairs)} built-in sentiment "
               f"pairs ({vec.meta['seconds']:.1f} s), added to the residual stream through removable hooks. "
               f"Mean VADER of {len(prompts)} neutral chat answers: {base:+.2f} unsteered, {up:+.2f} at "
               f"{STRENGTHS[1]:+g}, {down:+.2f} at {STRENGTHS[0]:+g}; the cost is the perplexity the unsteered "
               f"model gives the steered text. Try: latentspace steer train --pairs sentiment --out v.safetensors")
    return SectionResult("Steering", summary, rows, [image],
                         {"vader": {"unsteered": base, "up": up, "down": down}, "layers": layers})
