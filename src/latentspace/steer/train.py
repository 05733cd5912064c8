"""Train a steering vector: read the pairs at the chosen layers, run a method, orient and scale.

    vec = train_vector(lm, load_pairs("sentiment"), method="mean_diff", layers=range(8, 22))
    with vec.apply(lm, strength=0.5):
        print(lm.generate("Tell me about your weekend."))
"""

from __future__ import annotations

import random
import time
from types import SimpleNamespace
from typing import TYPE_CHECKING

import torch

from latentspace.core.errors import LatentspaceError
from latentspace.lens.probes import fit_linear
from latentspace.steer.layers import Layers, resolve_layers
from latentspace.steer.methods import get_method, orient_and_scale
from latentspace.steer.methods.base import check_activations
from latentspace.steer.pairs import Pair, data_hash
from latentspace.steer.reading import read_pairs
from latentspace.steer.vector import SteeringVector

if TYPE_CHECKING:  # the type only: no import at run time
    from latentspace.model.latent_model import LatentModel


def best_layer(pos: dict[int, torch.Tensor], neg: dict[int, torch.Tensor], seed: int = 0) -> tuple[int, list[dict]]:
    """The layer where a held-out probe separates the sides best (ties: the clearest separation).

    The split is by pair (both sides of a pair are on the same side of it), so a probe cannot
    pass by recognising a pair's shared topic.
    """
    n = len(next(iter(pos.values())))
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    test, train = order[: max(1, n // 4)], order[max(1, n // 4):]
    if not train:
        raise LatentspaceError(f"choosing the best layer needs at least 2 pairs, got {n}")
    scores = []
    for layer in pos:
        x_train = torch.cat([pos[layer][train], neg[layer][train]])
        y_train = [1] * len(train) + [0] * len(train)
        probe = fit_linear(x_train, y_train, "classification")
        shuffled = y_train[:]
        random.Random(seed).shuffle(shuffled)
        control = fit_linear(x_train, shuffled, "classification")
        x_test, y_test = torch.cat([pos[layer][test], neg[layer][test]]), [1] * len(test) + [0] * len(test)
        score = SimpleNamespace(test=probe.score(x_test, y_test), control=control.score(x_test, y_test))
        x = torch.cat([pos[layer], neg[layer]])
        diff = pos[layer] - neg[layer]
        unit = diff.mean(0) / diff.mean(0).norm().clamp_min(1e-12)
        proj = x @ unit
        clarity = float((diff @ unit).mean() / proj.std().clamp_min(1e-12))
        scores.append({"layer": layer, "probe_accuracy": score.test, "control": score.control, "clarity": clarity})
    best = max(scores, key=lambda s: (s["probe_accuracy"], s["clarity"]))
    return best["layer"], scores


def train_vector(lm: LatentModel, pairs: list[Pair], method: str = "mean_diff", layers: Layers = None,
                 position: str = "last",
                 concept: str | None = None, batch_size: int = 16, **options) -> SteeringVector:
    """A `SteeringVector` for ``lm`` from contrastive ``pairs``; see module doc."""
    if len(pairs) < 2:
        raise LatentspaceError(f"{len(pairs)} pair(s); a steering vector needs at least 2")
    extract = get_method(method, **options)
    chosen = resolve_layers(layers, lm.n_layers)
    started = time.perf_counter()
    # "best" looks between the first and last blocks: at the last, a vector only biases the logits
    read = (list(range(1, lm.n_layers - 1)) or list(range(lm.n_layers))) if chosen == "best" else chosen
    pos, neg = read_pairs(lm, pairs, read, position, batch_size)
    layer_scores = None
    if chosen == "best":
        best, layer_scores = best_layer(pos, neg)
        chosen = [best]
    directions = {}
    for layer in chosen:
        check_activations(pos[layer], neg[layer])
        directions[layer] = orient_and_scale(extract(pos[layer], neg[layer]), pos[layer], neg[layer])
    meta = {"method": method, "options": options, "layers": chosen, "position": position, "site": "resid_post",
            "n_pairs": len(pairs), "data_sha256": data_hash(pairs), "concept": concept, "model": lm.name,
            "seconds": round(time.perf_counter() - started, 3)}
    if layer_scores is not None:
        meta["layer_scores"] = layer_scores
    return SteeringVector(directions, lm.fingerprint, meta)
