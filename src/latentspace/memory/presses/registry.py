"""Presses by name: ``get_press("snapkv", ratio=0.5, window=32)``."""

from __future__ import annotations

from latentspace.core.errors import LatentspaceError
from latentspace.core.named import make_named

PRESSES: dict[str, type] = {}


def register(cls: type) -> type:
    PRESSES[cls.name] = cls
    return cls


def get_press(name: str, ratio: float = 0.5, **options):
    """A press by name; ``name`` may carry its ratio as ``"snapkv:0.5"``."""
    if ":" in name:
        name, _, given = name.partition(":")
        try:
            ratio = float(given)
        except ValueError:
            raise LatentspaceError(f"compression ratio must be a number, got {given!r}") from None
    return make_named(PRESSES, name, "press", {"ratio": ratio, **options})
