"""Fit a `HiddenMap` between two models from texts, with a held-out check of every layer pair."""

from __future__ import annotations

import random

import torch

from latentspace.bridge.hidden_map import HiddenMap, fit_quality
from latentspace.bridge.least_squares import fit_affine, fit_ridge
from latentspace.bridge.pairs import Paired, paired_states
from latentspace.bridge.procrustes import fit_procrustes
from latentspace.core.errors import LatentspaceError

METHODS = {"affine": lambda x, y, l2: fit_affine(x, y),
           "ridge": fit_ridge,
           "procrustes": lambda x, y, l2: fit_procrustes(x, y)}


def split_texts(n_texts: int, heldout: float, seed: int) -> tuple[set[int], set[int]]:
    """Texts (not pairs) go to one side: pairs of one text are near-duplicates of each other."""
    order = list(range(n_texts))
    random.Random(seed).shuffle(order)
    cut = max(1, round(heldout * n_texts)) if heldout > 0 and n_texts > 1 else 0
    return set(order[cut:]), set(order[:cut])


def fit_pairs(paired: Paired, pairs: list[tuple[int, int]], method: str = "ridge", l2: float = 1e-2,
              heldout: float = 0.2, seed: int = 0):
    """(layer maps fitted on the training texts' pairs, held-out quality per pair)."""
    if method not in METHODS:
        raise LatentspaceError(f"unknown map method {method!r}; valid: {', '.join(METHODS)}")
    train, test = split_texts(int(paired.text_of.max()) + 1, heldout, seed)
    on_train = torch.tensor([int(t) in train for t in paired.text_of])
    on_test = ~on_train
    if int(on_train.sum()) < 2:
        raise LatentspaceError("too few aligned pairs to fit a map; give more or longer texts")
    layers, quality = {}, {}
    for s, r in pairs:
        x, y = paired.sharer[s], paired.receiver[r]
        layers[(s, r)] = METHODS[method](x[on_train], y[on_train], l2)
        quality[f"{s}:{r}"] = (fit_quality(layers[(s, r)], x[on_test], y[on_test]) if on_test.any()
                               else fit_quality(layers[(s, r)], x[on_train], y[on_train]) | {"on": "train"})
    return layers, quality


def fit_map(sharer, receiver, texts: list[str], pairs: list[tuple[int, int]], method: str = "ridge",
            l2: float = 1e-2, heldout: float = 0.2, seed: int = 0, progress=None) -> HiddenMap:
    """A map from ``sharer``'s hidden space to ``receiver``'s, fitted on ``texts`` read by both."""
    paired = paired_states(sharer, receiver, texts, pairs, progress=progress)
    layers, quality = fit_pairs(paired, pairs, method, l2, heldout, seed)
    meta = {"method": method, "l2": l2 if method == "ridge" else None, "texts": len(texts), "pairs": len(paired),
            "heldout": quality, "sharer": sharer.name, "receiver": receiver.name}
    return HiddenMap(layers, sharer.fingerprint, receiver.fingerprint, meta)
