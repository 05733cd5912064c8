"""Latent reasoning without training: one `Reasoner` interface, one file per strategy."""

from latentspace.reason import continuous, cot, direct, loop, optimize, pause, soft, switch  # noqa: F401 (registers)
from latentspace.reason.base import REGISTRY, Reasoner, get_reasoner

__all__ = ["REGISTRY", "Reasoner", "get_reasoner"]
