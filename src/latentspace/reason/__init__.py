"""Latent reasoning without training: one `Reasoner` interface, one file per strategy."""

from latentspace.reason import continuous, cot, direct, pause, soft  # noqa: F401  (registers them)
from latentspace.reason.base import REGISTRY, Reasoner, get_reasoner

__all__ = ["REGISTRY", "Reasoner", "get_reasoner"]
