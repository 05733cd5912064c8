"""What an extraction method is, and the one rule every method's output follows.

A method turns the activations of the positive and negative sides at one layer (``[N, d]`` each,
row i from pair i) into a direction. `orient_and_scale` then fixes its sign and length the same
way for all methods: the sign is the one most pairs agree with (the positive side projects
higher: majority projection, as anchors.md asks for PCA), and the length is the mean separation
of the pairs along it — so strength 1 means "one typical pair's distance" for every method.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from latentspace.core.errors import LatentspaceError

Method = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
METHODS: dict[str, type] = {}


def register(name: str):
    def wrap(cls):
        METHODS[name] = cls
        cls.name = name
        return cls

    return wrap


def get_method(name: str, **options):
    if name not in METHODS:
        raise LatentspaceError(f"unknown steering method {name!r}; valid: {', '.join(METHODS)}")
    try:
        return METHODS[name](**options)
    except TypeError as err:
        raise LatentspaceError(f"bad option for method {name!r}: {err}") from None


def orient_and_scale(direction: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
    """Point from negative to positive (majority of pairs), length = mean separation along it."""
    norm = direction.float().norm()
    if not torch.isfinite(norm) or norm == 0:
        raise LatentspaceError("the method found no direction: the two sides do not differ at this layer")
    unit = direction.float() / norm
    separation = (pos.float() - neg.float()) @ unit  # [N]
    ahead, behind = int((separation > 0).sum()), int((separation < 0).sum())
    if behind > ahead or (behind == ahead and separation.mean() < 0):  # a tie: the mean decides
        unit, separation = -unit, -separation
    length = separation.mean().abs()
    if length == 0:
        raise LatentspaceError("the pairs do not separate along the method's direction")
    return unit * length


def check_activations(pos: torch.Tensor, neg: torch.Tensor) -> None:
    if pos.shape != neg.shape or pos.dim() != 2:
        raise LatentspaceError(f"positive {tuple(pos.shape)} and negative {tuple(neg.shape)} activations must be [N, d]")
    if len(pos) < 2:
        raise LatentspaceError("a steering vector needs at least 2 pairs")
