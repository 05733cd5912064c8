"""Read a steering direction out of a lens probe (`latentspace probe fit --out probe.safetensors`).

A probe trained to tell a concept apart already holds a direction for it: its weight towards the
chosen class, mapped back to the raw residual space. A probe carries no pairs, so there is no
typical separation to scale by: the direction is unit length (strength is then a norm).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from latentspace.core.errors import LatentspaceError
from latentspace.lens.probes import LinearProbe
from latentspace.steer.methods.logistic import probe_direction
from latentspace.steer.vector import SteeringVector

if TYPE_CHECKING:  # the type only: no import at run time
    from latentspace.model.latent_model import LatentModel


def from_probe(lm: LatentModel, probe: LinearProbe | str | Path, layer: int | None = None,
               positive=None) -> SteeringVector:
    """A one-layer vector from a probe; ``layer`` defaults to the layer saved with the probe."""
    meta = {}
    if not isinstance(probe, LinearProbe):
        probe, meta = LinearProbe.load_with_meta(probe, lm.fingerprint)
    layer = meta.get("layer") if layer is None else layer
    if layer is None:
        raise LatentspaceError("which layer was the probe fitted on? pass layer=")
    if not 0 <= int(layer) < lm.n_layers:
        raise LatentspaceError(f"layer {layer} out of range: valid 0..{lm.n_layers - 1}")
    if meta.get("site", "resid_post") != "resid_post":
        raise LatentspaceError(f"the probe was fitted on {meta['site']}; steering adds to resid_post")
    if probe.task == "classification":
        names = [str(c) for c in probe.classes]  # "1" from the command line matches the class 1
        positive = probe.classes[-1] if positive is None else positive
        if str(positive) not in names:
            raise LatentspaceError(f"class {positive!r} is not one of the probe's classes {probe.classes}")
        positive = probe.classes[names.index(str(positive))]
    w = probe_direction(probe, positive)
    return SteeringVector({int(layer): w / w.norm().clamp_min(1e-12)}, lm.fingerprint,
                          {"method": "probe", "layers": [int(layer)], "positive_class": positive, "scale": "unit"})
