"""Carry a steering vector from the sharer's hidden space to the receiver's through a map.

A steering vector is a direction per block; each block the map pairs moves by the map's linear part
(`LayerMap.direction`) to the receiver block it is paired with. What the moved vector does on the
receiver is measured, not assumed (`benchmarks/bench_bridge.py`).
"""

from __future__ import annotations

from latentspace.bridge.hidden_map import HiddenMap
from latentspace.bridge.pairs import EMBED
from latentspace.core.errors import LatentspaceError
from latentspace.steer.vector import SteeringVector


def move_vector(vector: SteeringVector, bridge: HiddenMap) -> SteeringVector:
    if vector.fingerprint is not None and vector.fingerprint != bridge.sharer:
        raise LatentspaceError("this steering vector was not read from the map's sharer model")
    moved = {}
    for (s, r), layer_map in sorted(bridge.layers.items()):
        if r == EMBED:  # the receiver's inputs are no block: nothing to steer there
            continue
        if s in vector.directions and vector.hidden_size != layer_map.weight.shape[0]:
            raise LatentspaceError(f"the steering vector has dimension {vector.hidden_size}; the map's sharer "
                                   f"blocks have {layer_map.weight.shape[0]}")
        if s in vector.directions and r not in moved:
            moved[r] = layer_map.direction(vector.directions[s])
    if not moved:
        raise LatentspaceError(f"the map pairs sharer blocks {sorted({s for s, r in bridge.layers if r != EMBED})} "
                               f"with receiver blocks; the vector "
                               f"steers blocks {sorted(vector.directions)}: none in common (fit the map with "
                               "--layers covering the vector's blocks)")
    meta = {**vector.meta, "moved": {"from": bridge.meta.get("sharer"), "method": bridge.meta.get("method"),
                                     "pairs": [f"{s}:{r}" for s, r in bridge.pairs()
                                               if s in vector.directions and r != EMBED]}}
    return SteeringVector(moved, bridge.receiver, meta)
