"""Run sizes: `smoke` (seconds, for tests), `quick` (the comparison table on a laptop CPU),
`full` (the paper's sizes, for a GPU).

A profile fixes the data sizes, the from-scratch model and the optimisation; recipe options it
sets (epochs, stages) are defaults the command line can still override.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from latentspace.errors import LatentspaceError
from latentspace.named import above, between


@dataclass(frozen=True)
class Profile:
    name: str
    n_train: int
    n_valid: int
    n_test: int
    family: str = "gpt2"  # from-scratch model family (GPT-2 as in the paper, or llama)
    layers: int = 2
    hidden: int = 64
    heads: int = 4
    batch_size: int = 32
    lr: float = 1e-4
    weight_decay: float = 0.01
    dropout: float = 0.0  # GPT-2's default is 0.1; 0 keeps small runs deterministic across process counts
    recipe_options: dict[str, dict] = field(default_factory=dict)  # per recipe: its option overrides
    note: str = ""
    task: str = "prosqa"  # the task a run of this profile trains on when none is named
    # one declaration bounds a profile and every run setting that overrides it (`--set`, --config,
    # `TrainRun.extra`); a learning rate may be large (divergence is caught as it happens) but finite
    RANGES: ClassVar[dict] = {
        "n_train": between(1, 10_000_000), "n_valid": between(1, 1_000_000), "n_test": between(1, 1_000_000),
        "layers": between(1, 256), "hidden": between(2, 65_536), "heads": between(1, 1024),
        "batch_size": between(1, 65_536), "lr": above(0), "weight_decay": between(0, None),
        "dropout": between(0, 1)}


def recipe_options(epochs: int, per_stage: int, max_stage: int, remove_per_epoch: int, codi_epochs: int,
                   thoughts: int) -> dict[str, dict]:
    """Per-recipe defaults of a profile; `pause` mirrors `coconut` (its control must match it)."""
    curriculum = {"epochs": epochs, "epochs_per_stage": per_stage, "max_stage": max_stage}
    return {"coconut": curriculum, "pause": dict(curriculum), "cot": {"epochs": epochs}, "nocot": {"epochs": epochs},
            "icot": {"epochs": epochs, "remove_per_epoch": remove_per_epoch},
            "codi": {"epochs": codi_epochs, "thoughts": thoughts}}


PROFILES = {
    "smoke": Profile(
        "smoke", n_train=32, n_valid=8, n_test=8, layers=2, hidden=32, heads=2, batch_size=8, lr=3e-3,
        recipe_options=recipe_options(4, 1, 2, remove_per_epoch=8, codi_epochs=4, thoughts=3),
        note="seconds; for tests — proves the machinery, not the method"),
    "quick": Profile(
        "quick", n_train=3000, n_valid=100, n_test=200, layers=2, hidden=128, heads=4, batch_size=32, lr=1e-3,
        recipe_options=recipe_options(15, 2, 4, remove_per_epoch=2, codi_epochs=8, thoughts=4), task="prosqa-small",
        note="the comparison table on a 2-core CPU in about an hour: ProsQA-like questions with smaller graphs "
             "(prosqa-small: 8-12 nodes, 2-4 hops, ~100 word tokens) for a 2-layer 128-d GPT-2, 3000 items, 15 "
             "epochs (measured: 28 min for all six recipes, ~14k tokens/s). Chosen by a 26-run sweep (benchmarks/"
             "calibrate_quick.py, docs/results.md): no CPU-sized setting learned the task well — at this one a GPU "
             "run gave No-CoT 49%, CoT 12%, Coconut 49.5% (chance is 50%); the published graph sizes gave <= 3.5%"),
    "full": Profile(
        "full", n_train=17886, n_valid=300, n_test=500, layers=12, hidden=768, heads=12, batch_size=128, lr=1e-4,
        dropout=0.1,
        recipe_options=recipe_options(50, 5, 6, remove_per_epoch=8, codi_epochs=50, thoughts=6),
        note="the paper's ProsQA sizes (GPT-2 small from scratch, AdamW 1e-4, wd 0.01, batch 128); a GPU. Measured "
             "on one H200 (fp32): 0.73-0.86 s per step of 128 at every Coconut stage, so ~2 min per epoch of 140 "
             "steps and ~1.6 h per 50-epoch recipe, evaluations aside"),
}


def get_profile(name: str) -> Profile:
    if name not in PROFILES:
        raise LatentspaceError(f"unknown profile {name!r}; valid: {', '.join(PROFILES)}")
    return PROFILES[name]
