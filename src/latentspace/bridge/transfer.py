"""Carry a steering vector from the sharer's hidden space to the receiver's through a map.

A steering vector is a direction per block; each block the map pairs moves by the map's linear part
(`LayerMap.direction`) to the receiver block it is paired with. What the moved vector does on the
receiver is measured, not assumed (`benchmarks/bench_bridge.py`).
"""

from __future__ import annotations

from latentspace.bridge.hidden_map import HiddenMap
from latentspace.errors import LatentspaceError
from latentspace.steer.vector import SteeringVector


def move_vector(vector: SteeringVector, bridge: HiddenMap) -> SteeringVector:
    if vector.fingerprint is not None and vector.fingerprint != bridge.sharer:
        raise LatentspaceError("this steering vector was not read from the map's sharer model")
    moved = {}
    for (s, r), layer_map in sorted(bridge.layers.items()):
        if s in vector.directions and r not in moved:
            moved[r] = layer_map.direction(vector.directions[s])
    if not moved:
        raise LatentspaceError(f"the map pairs sharer blocks {sorted({s for s, _ in bridge.layers})}; the vector "
                               f"steers blocks {sorted(vector.directions)}: none in common (fit the map with "
                               "--layers covering the vector's blocks)")
    meta = {**vector.meta, "moved": {"from": bridge.meta.get("sharer"), "method": bridge.meta.get("method"),
                                     "pairs": [f"{s}:{r}" for s, r in bridge.pairs() if s in vector.directions]}}
    return SteeringVector(moved, bridge.receiver, meta)
