"""Apply vectors while the model runs: add (`adding.steer`), ablate (project out) or clamp — hooks only.

Each function returns a context manager (a `HookSession`): the model is steered inside the
``with`` block and every hook is gone after it, also when the block raises. Nothing in the model
is replaced or edited. Which positions are touched:

- ``"all"``: every position (the prompt and everything generated after it);
- ``"prompt"``: only the positions of a prefill (a forward pass over an empty cache);
- ``"generated"``: only positions added after it: decoded tokens, latent thoughts;
- explicit sequence slots (a list, ``range`` or ``slice``).

Positions are sequence slots read from the KV cache, so cached generation steers exactly the
slots a full re-run of the growing sequence steers when given the same slots explicitly
(``slice(prompt_length, None)``). The roles need the cache: without one, every pass is a prefill
and all of it counts as prompt.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch

from latentspace.core.errors import LatentspaceError
from latentspace.model.hooks import HookSession, Intervention
from latentspace.steer.adding import SQUARE_LIMIT, checked_number, checked_positions, degenerate_logits_guard
from latentspace.steer.layers import resolve_layers
from latentspace.steer.vector import SteeringVector

if TYPE_CHECKING:  # the type only: no import at run time
    from latentspace.model.latent_model import LatentModel


def _per_layer(lm: LatentModel, direction, layers) -> dict[int, torch.Tensor]:
    """Layer -> direction: one direction everywhere, or each layer's own from a multi-layer vector."""
    if isinstance(direction, SteeringVector):
        direction.check_fits(lm)
        if len(direction) > 1:
            if layers is not None:
                raise LatentspaceError("a multi-layer vector already says its layers; leave layers unset")
            return dict(direction.directions)
        direction = next(iter(direction.directions.values()))
    direction = torch.as_tensor(direction, dtype=torch.float32)
    if direction.shape != (lm.hidden_size,):
        raise LatentspaceError(f"direction has shape {tuple(direction.shape)}; expected ({lm.hidden_size},)")
    if not torch.isfinite(direction).all() or float(direction.norm()) == 0:
        raise LatentspaceError("direction must be finite and non-zero")
    chosen = list(range(lm.n_layers)) if layers is None else resolve_layers(layers, lm.n_layers)
    if chosen == "best":
        raise LatentspaceError("'best' chooses layers for training; give the layers to act on")
    return {x: direction for x in chosen}


def ablate(lm: LatentModel, direction: SteeringVector | torch.Tensor, layers: Sequence[int] | None = None,
           positions="all") -> HookSession:
    """Directional ablation: remove the component along ``direction`` from the residual stream.

    It is projected out of the stream entering the first chosen block, out of each chosen block's
    attention output (in sequential blocks the MLP then reads a stream without it) and out of each
    chosen block's output, so the stream's projection on it is zero at the output of every chosen
    layer. Default: every layer (then also between them).
    """
    per_layer = _per_layer(lm, direction, layers)
    where = checked_positions(positions)
    first = min(per_layer)
    ivs = [Intervention("resid_pre", first, "project_out", per_layer[first], positions=where)]
    for layer, d in sorted(per_layer.items()):
        ivs.append(Intervention("attn_out", layer, "project_out", d, positions=where))
        ivs.append(Intervention("resid_post", layer, "project_out", d, positions=where))
    return lm.hooks(interventions=ivs)


def clamp(lm: LatentModel, direction: SteeringVector | torch.Tensor, value: float, layers: Sequence[int] | None = None,
          positions="all") -> HookSession:
    """Set the stream's coordinate along the (unit) direction to ``value`` at each chosen layer."""
    value = checked_number(value, "clamp value")
    if abs(value) > SQUARE_LIMIT:
        raise LatentspaceError(f"clamp value {value:g} overflows the residual stream; use a smaller one")
    per_layer = _per_layer(lm, direction, layers)
    where = checked_positions(positions)
    ivs = []
    for layer, d in sorted(per_layer.items()):
        unit = d / d.norm().clamp_min(1e-12)

        def set_coordinate(h: torch.Tensor, unit=unit) -> torch.Tensor:
            u = unit.to(h.device, h.dtype)
            return h + (value - (h * u).sum(-1, keepdim=True)) * u

        ivs.append(Intervention("resid_post", layer, "fn", set_coordinate, positions=where))
    return lm.hooks(interventions=[*ivs, degenerate_logits_guard(f"a clamp to {value:g}")])
