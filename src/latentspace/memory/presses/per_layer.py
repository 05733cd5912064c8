"""Per-layer press: a different scoring in different layers, one ratio for all of them.

Every layer keeps the same number of slots (the cache's mask is shared by all layers), so what
varies per layer is *which* slots stay, not how many.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from latentspace.core.errors import LatentspaceError
from latentspace.memory.presses.base import Press
from latentspace.memory.presses.registry import register


@register
@dataclass
class PerLayerPress(Press):
    name = "per_layer"
    layers: dict = field(default_factory=dict)  # layer index -> press (its ratio is ignored)
    default: Press | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        for press in [*self.layers.values(), self.default]:
            if press is not None and not press.per_layer:
                raise LatentspaceError(f"press {press.name!r} scores positions, not layers; it cannot be used per layer")
        if self.default is None and not self.layers:
            raise LatentspaceError("per_layer press needs at least one press")

    def score(self, view):
        press = self.layers.get(view.layer, self.default)
        if press is None:
            raise LatentspaceError(f"per_layer press has no press for layer {view.layer} and no default")
        return press.score(view)
