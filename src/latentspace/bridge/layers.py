"""Which sharer layer maps to which receiver layer.

Models of different depths are paired by relative depth (block l of L_s <-> the receiver block at the
same fraction of its depth), the default of model-stitching work; C2C pairs last-to-last, which the
default includes. An explicit spec ``"S:R,S:R"`` names block indices (0-based, block outputs); a
receiver -1 (`pairs.EMBED`) names its input embeddings, the space it reads: the ``LAYER:-1`` map an
agents pipeline hands over through (docs/agents.md).
"""

from __future__ import annotations

import math

from latentspace.bridge.pairs import EMBED
from latentspace.core.errors import LatentspaceError

DEPTHS = (0.25, 0.5, 0.75, 1.0)  # the default pairs: a quarter, half, three quarters and the last block


def proportional(sharer_layers: int, receiver_layers: int, depths=DEPTHS) -> list[tuple[int, int]]:
    pairs = []
    for f in depths:
        pair = (max(0, math.floor(f * sharer_layers + 0.5) - 1), max(0, math.floor(f * receiver_layers + 0.5) - 1))
        if pair not in pairs:
            pairs.append(pair)
    return pairs


def layer_pairs(spec: str | None, sharer_layers: int, receiver_layers: int) -> list[tuple[int, int]]:
    """``spec`` None or "auto": `proportional`; else "S:R,S:R" checked against both depths."""
    if spec is None or spec.strip().lower() == "auto":
        return proportional(sharer_layers, receiver_layers)
    pairs = []
    for part in spec.split(","):
        left, sep, right = part.strip().partition(":")
        try:
            pair = (int(left), int(right))
        except ValueError:
            raise LatentspaceError(f"--layers: {part.strip()[:40]!r} is not SHARER:RECEIVER (e.g. 14:8)") from None
        if not sep:
            raise LatentspaceError(f"--layers: {part.strip()[:40]!r} is not SHARER:RECEIVER (e.g. 14:8)")
        if not 0 <= pair[0] < sharer_layers or not (0 <= pair[1] < receiver_layers or pair[1] == EMBED):
            raise LatentspaceError(f"--layers: {pair[0]}:{pair[1]} is out of range (the sharer has blocks "
                                   f"0-{sharer_layers - 1}, the receiver 0-{receiver_layers - 1}, or "
                                   f"{EMBED} for its inputs)")
        if pair not in pairs:
            pairs.append(pair)
    if not pairs or len(pairs) > 64:
        raise LatentspaceError("--layers: give 1 to 64 pairs SHARER:RECEIVER")
    return pairs
