"""Training data for a latent reward model: sampled paths and the Monte-Carlo value of each prefix.

For each question, G paths are drawn; for each path and each prefix of t thoughts (t < T), M
continuations keep the path's first t fed vectors and draw the rest — the share of them that ends
right is the prefix's value (LatentTTS's step value). The full path's value is its own outcome. The
model is deterministic given the fed vectors, so fixing them fixes the prefix exactly (with mts and
noise; MC-dropout's randomness is in the passes themselves, so its prefixes are only approximated).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from latentspace.core.errors import LatentspaceError
from latentspace.model.samplers import ThoughtSampler
from latentspace.search.features import FeatureRecorder
from latentspace.tasks import Item


@dataclass
class Rollouts:
    features: torch.Tensor  # [Q, G, T, F] step features (zeros where a question has fewer thoughts)
    values: torch.Tensor  # [Q, G, T] Monte-Carlo value of the prefix ending at each step
    mask: torch.Tensor  # [Q, G, T] the step exists

    @property
    def questions(self) -> int:
        return self.features.shape[0]


def collect_rollouts(loaded, items: list[Item], sampler: ThoughtSampler, paths: int = 8, continuations: int = 8,
                     seed: int = 0, batch_size: int = 256, progress=None) -> Rollouts:
    """``paths`` sampled paths per item with their step features and prefix values (``continuations`` each)."""
    if paths < 2:
        raise LatentspaceError(f"a reward model learns from a group of paths per question: paths must be ≥ 2, got {paths}")
    if continuations < 1:
        raise LatentspaceError(f"continuations must be ≥ 1, got {continuations}")
    repeated = [item for item in items for _ in range(paths)]
    recorder = FeatureRecorder()
    rows = loaded.evaluate(repeated, batch_size, sampler=sampler, seed=seed, observe=recorder,
                                  finished=recorder.finished).rows
    width = 2 * loaded.causal_lm.config.get_text_config().hidden_size + 1
    per_path = [recorder.stacked(r, width, rows[r]["thoughts"]) for r in range(len(repeated))]
    steps = max((len(f) for f in per_path), default=0)
    if steps == 0:
        raise LatentspaceError("these items get no thoughts from this run: nothing for a reward model to read")
    features = torch.zeros(len(repeated), steps, width)
    mask = torch.zeros(len(repeated), steps, dtype=torch.bool)
    values = torch.zeros(len(repeated), steps)
    for r, found in enumerate(per_path):
        features[r, :len(found)], mask[r, :len(found)] = found, True
        values[r, :] = float(rows[r]["correct"])  # a full path (and any step past its end): its own outcome
    fed = features[:, :, width // 2:width - 1]  # the fed vectors, to replay a prefix
    for t in range(1, steps):
        if progress is not None:
            progress(t, steps)
        live = [r for r in range(len(repeated)) if len(per_path[r]) > t]
        if not live:
            continue
        again = [repeated[r] for r in live for _ in range(continuations)]
        source = torch.tensor(live).repeat_interleave(continuations)

        def replay(i, state, drawn, rows, t=t, source=source):  # the path's own first t thoughts
            if i >= t:
                return drawn
            return fed[source[rows.start:rows.stop], i].to(drawn.dtype).to(drawn.device)

        ended = loaded.evaluate(again, batch_size, sampler=sampler, seed=seed + 1000 * t, edit=replay).rows
        right = torch.tensor([float(r["correct"]) for r in ended]).view(len(live), continuations).mean(1)
        values[torch.tensor(live), t - 1] = right
    q = len(items)
    return Rollouts(features.view(q, paths, steps, width), values.view(q, paths, steps), mask.view(q, paths, steps))
