"""N sampled thought paths per question from a trained run, beside its deterministic (greedy) answer."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from latentspace.core.errors import LatentspaceError
from latentspace.model.samplers import ThoughtSampler
from latentspace.search.features import FeatureRecorder
from latentspace.tasks import Item

MOST_PATHS = 4096


@dataclass
class SampledPaths:
    items: list[Item]
    greedy: list[dict]  # per item: the deterministic run's row (`evaluate`'s: extracted, correct, text)
    paths: list[list[dict]]  # per item: N sampled rows, in the order drawn (a prefix is a smaller N)
    sampler: str  # its spec, e.g. "mts:4"
    seed: int
    features: list[list[torch.Tensor]] = field(default_factory=list)  # per item, per path: [T, F] step features

    @property
    def n(self) -> int:
        return len(self.paths[0]) if self.paths else 0


def sample_paths(loaded, items: list[Item], sampler: ThoughtSampler, n: int, seed: int = 0,
                 batch_size: int = 64) -> SampledPaths:
    """``n`` paths per item through ``loaded`` (a `train.studies.evaluate_run.LoadedRun`), seeded."""
    if not isinstance(n, int) or not 1 <= n <= MOST_PATHS:
        raise LatentspaceError(f"samples must be between 1 and {MOST_PATHS}, got {n!r}")
    if sampler.needs_logits and not loaded.recipe.mixes_tokens:
        raise LatentspaceError(f"a {loaded.recipe.name} thought is a fed-back state, not a token mixture: "
                               f"{sampler.name} cannot sample it (use noise:SIGMA or dropout:P)")
    greedy = loaded.evaluate(items, batch_size).rows
    repeated = [item for item in items for _ in range(n)]
    recorder = FeatureRecorder()
    drawn = loaded.evaluate(repeated, batch_size, sampler=sampler, seed=seed, observe=recorder,
                                  finished=recorder.finished).rows
    width = 2 * loaded.causal_lm.config.get_text_config().hidden_size + 1
    features = [[recorder.stacked(i * n + j, width, drawn[i * n + j]["thoughts"]) for j in range(n)]
                for i in range(len(items))]
    return SampledPaths(items, greedy, [drawn[i * n:(i + 1) * n] for i in range(len(items))], sampler.spec(), seed,
                        features)
