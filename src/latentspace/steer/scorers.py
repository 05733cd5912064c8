"""Judges of a steered text's effect: VADER for sentiment, a held-out probe for anything else.

A scorer maps texts to one number each (higher = more of the concept). VADER is independent of the
model (a lexicon and rules, offline); a probe is read by the *unsteered* model, so the judge never
sees the steering itself.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from latentspace.core.errors import LatentspaceError

if TYPE_CHECKING:  # the type only: no import at run time
    from latentspace.model.latent_model import LatentModel

Scorer = Callable[[list[str]], list[float]]


def vader() -> Scorer:
    """VADER compound score in [-1, 1] per text (the `vadersentiment` package)."""
    try:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    except ImportError as err:
        raise LatentspaceError("the VADER scorer needs: pip install vadersentiment") from err
    analyzer = SentimentIntensityAnalyzer()

    def score(texts: list[str]) -> list[float]:
        return [float(analyzer.polarity_scores(t)["compound"]) for t in texts]

    score.name = "vader"
    return score


def probe(lm: LatentModel, path: str | Path, positive=None) -> Scorer:
    """Probability of the probe's ``positive`` class (default: the last in sorted order), per text.

    The probe comes from ``latentspace probe fit --position mean --out FILE`` on labelled texts that
    were not used to make the vector (a held-out judge).
    """
    from latentspace.lens.probes import LinearProbe, activations

    fitted, meta = LinearProbe.load_with_meta(path, lm.fingerprint)
    if fitted.task != "classification":
        raise LatentspaceError("the probe scorer needs a classification probe")
    if "layer" not in meta:
        raise LatentspaceError(f"{Path(path).name} does not say which layer it was fitted on")
    names = [str(c) for c in fitted.classes]  # "1" on the command line matches the class 1
    positive = names[-1] if positive is None else str(positive)
    if positive not in names:
        raise LatentspaceError(f"class {positive!r} is not one of the probe's classes {fitted.classes}")
    k, layer = names.index(positive), int(meta["layer"])
    site, position = meta.get("site", "resid_post"), meta.get("position", "mean")

    def score(texts: list[str]) -> list[float]:
        kept = [t if t.strip() else "." for t in texts]  # an empty completion still gets a reading
        x = activations(lm, kept, site, [layer], position)[layer]
        z = (x - fitted.mean) / fitted.std
        return torch.softmax(z @ fitted.weight.T + fitted.bias, -1)[:, k].tolist()

    score.name = f"probe:{Path(path).name}"
    return score


def get_scorer(lm: LatentModel, spec: str) -> Scorer:
    """``vader`` or ``probe:FILE[:CLASS]``."""
    if spec == "vader":
        return vader()
    if spec.startswith("probe:"):
        _, path, *cls = spec.split(":", 2)
        return probe(lm, path, cls[0] if cls else None)
    raise LatentspaceError(f"unknown scorer {spec!r}; valid: vader, probe:FILE[:CLASS]")
