"""Samplers: what makes a continuous thought stochastic (test-time search and RL over thoughts).

    sampler = parse_sampler("mts:4")      # or noise:0.6, gumbel:0.5, dirichlet:1, dropout:0.2
    drawn = sampler.draw(mean, logits, table, generator)   # drawn.vectors are fed, drawn.action kept

One method per file; `base` holds the contract, the registry and the ``name:value`` parser.
"""

from latentspace.model.samplers.base import Drawn, SAMPLERS, ThoughtSampler, parse_sampler
from latentspace.model.samplers import dirichlet, dropout, gumbel, mts, noise  # noqa: F401  (registers them)

__all__ = ["Drawn", "SAMPLERS", "ThoughtSampler", "parse_sampler"]
