"""`steer eval`: sweep the strength, measure the effect and what it costs the text.

For each strength the same prompts are completed (greedy unless a temperature is given) with the
vector applied; the completions are then judged with steering *off*: the effect by a scorer
(VADER, a probe), the cost by the perplexity the unsteered model gives them (as a ratio to the
unsteered completions') and by their repetition rate.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from latentspace.core.errors import LatentspaceError
from latentspace.steer.scorers import Scorer
from latentspace.steer.text_cost import perplexity, repetition
from latentspace.steer.vector import SteeringVector

if TYPE_CHECKING:  # the type only: no import at run time
    from latentspace.model.latent_model import LatentModel

# Everyday requests with no sentiment of their own (written for this project).
NEUTRAL_PROMPTS = [
    "Tell me about your weekend.",
    "Describe the city you live in.",
    "What do you think about mornings?",
    "Write a short note to a coworker.",
    "Describe a walk in the park.",
    "What is your opinion of trains?",
]


@dataclass
class SweepPoint:
    strength: float | None  # None: the unsteered baseline
    effect: float  # mean scorer value of the completions
    perplexity: float  # of the completions under the unsteered model
    perplexity_ratio: float  # to the unsteered completions' perplexity
    repetition: float  # share of repeated token 3-grams
    tokens: int
    seconds: float
    scores: list[float] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)

    def to_dict(self, texts: bool = True) -> dict:
        d = asdict(self)
        return d if texts else {k: v for k, v in d.items() if k not in ("texts", "scores")}


def complete(lm: LatentModel, prompts: Sequence[str], max_new_tokens: int, chat: bool = True, temperature: float = 0.0,
             seed: int | None = 0):
    """Completions of ``prompts`` as one left-padded batch (under whatever hooks are active)."""
    state = lm.encode(list(prompts), chat=chat)
    return lm.decode(state, max_new_tokens=max_new_tokens, temperature=temperature, seed=seed)


def prompt_ids(lm: LatentModel, prompts: Sequence[str], chat: bool = True) -> list[list[int]]:
    ids, mask = lm.tokenize(list(prompts), chat=chat)
    return [row[m.bool()].tolist() for row, m in zip(ids, mask)]


def sweep(lm: LatentModel, vector: SteeringVector, strengths: Sequence[float], scorer: Scorer,
          prompts: Sequence[str] = NEUTRAL_PROMPTS, max_new_tokens: int = 48, positions: str = "all",
          chat: bool = True, temperature: float = 0.0, seed: int | None = 0,
          on_point: Callable[[SweepPoint], None] | None = None) -> list[SweepPoint]:
    """The unsteered baseline, then one point per strength (in the order given)."""
    if not strengths:
        raise LatentspaceError("give at least one strength")
    if not prompts:
        raise LatentspaceError("give at least one prompt")
    vector.check_fits(lm)
    context = prompt_ids(lm, prompts, chat)
    points: list[SweepPoint] = []
    for strength in [None, *strengths]:
        steering = nullcontext() if strength is None else vector.apply(lm, strength, positions=positions)
        started = time.perf_counter()
        with steering:
            result = complete(lm, prompts, max_new_tokens, chat, temperature, seed)
        seconds = time.perf_counter() - started
        ppl = perplexity(lm, context, result.token_ids)  # judged unsteered: outside the context
        base = points[0].perplexity if points else ppl
        scores = scorer(result.texts)
        point = SweepPoint(strength, sum(scores) / len(scores), ppl, ppl / base, repetition(result.token_ids),
                           result.n_tokens, seconds, scores, result.texts)
        points.append(point)
        if on_point:
            on_point(point)
    return points


def best_within(points: list[SweepPoint], max_ratio: float = 1.5) -> dict[str, SweepPoint | None]:
    """The strongest effect each way among points whose perplexity stays within ``max_ratio``."""
    ok = [p for p in points[1:] if p.perplexity_ratio <= max_ratio]
    up = [p for p in ok if p.strength > 0]
    down = [p for p in ok if p.strength < 0]
    return {"up": max(up, key=lambda p: p.effect, default=None),
            "down": min(down, key=lambda p: p.effect, default=None)}


def plot(points: list[SweepPoint], path: Path, title: str, effect_label: str) -> Path:
    """Effect and cost against strength (left), effect against cost (right)."""
    from latentspace.core.plots import save

    steered = sorted(points[1:], key=lambda p: p.strength)
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    xs = [p.strength for p in steered]
    left.plot(xs, [p.effect for p in steered], "o-", color="tab:blue", label=f"effect ({effect_label})")
    left.axhline(points[0].effect, color="tab:blue", ls=":", lw=1, label="unsteered effect")
    left.set_xlabel("strength")
    left.set_ylabel(effect_label, color="tab:blue")
    cost = left.twinx()
    cost.plot(xs, [p.perplexity_ratio for p in steered], "s--", color="tab:red", label="perplexity ratio")
    cost.plot(xs, [p.repetition for p in steered], "^:", color="tab:gray", label="repetition")
    cost.set_ylabel("perplexity ratio / repetition", color="tab:red")
    left.set_title(title, fontsize=9)
    right.scatter([p.perplexity_ratio for p in steered], [p.effect for p in steered],
                  c=xs, cmap="coolwarm")
    for p in steered:
        right.annotate(f"{p.strength:g}", (p.perplexity_ratio, p.effect), fontsize=7)
    right.scatter([1.0], [points[0].effect], marker="*", color="black", label="unsteered")
    right.set_xlabel("perplexity ratio (cost)")
    right.set_ylabel(effect_label)
    right.legend(fontsize=7)
    return save(fig, path)
