"""Add steering vectors to the residual stream while the model runs (`steer`), with its guards.

This is what `SteeringVector.apply` runs and what `apply.py`'s ablation and clamping share (the
position and strength checks, the overflow limit, the collapsed-logits guard). It needs no vector
class, only what a vector offers (``check_fits``, ``directions``, ``meta``), so `vector.py` and
`apply.py` both import it at module top and neither imports the other inside a function.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import torch

from latentspace.core.errors import LatentspaceError
from latentspace.model.hooks import HookSession, Intervention, ROLES

if TYPE_CHECKING:  # the type only: no import at run time
    from latentspace.model.latent_model import LatentModel

Schedule = Mapping[int, float] | Callable[[int], float] | None
# Float32's largest square root: a stream coordinate past it overflows the norm layers' mean of squares
# (RMSNorm then returns zeros, every logit is equal, and the model "answers" with empty text).
SQUARE_LIMIT = 1.8e19


def checked_positions(positions):
    """``None`` for every position, else the role or slots (see `apply.py`)."""
    if positions is None or (isinstance(positions, str) and positions == "all"):
        return None
    if isinstance(positions, str) and positions not in ROLES:
        raise LatentspaceError(f"positions must be 'all', 'prompt', 'generated' or slots, not {positions!r}")
    return positions


def _weight(schedule: Schedule, layer: int) -> float:
    if schedule is None:
        return 1.0
    if callable(schedule):
        return float(schedule(layer))
    return float(schedule.get(layer, 0.0))


def checked_number(value, what: str) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise LatentspaceError(f"{what} must be a number, not {value!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise LatentspaceError(f"{what} must be finite")
    return value


def label(vector, name: str | None = None) -> str:
    """How an error names a vector (a `SteeringVector`): its file, else its concept or method."""
    return name or vector.meta.get("source") or vector.meta.get("concept") or vector.meta.get("method") or "vector"


def steer(lm: LatentModel, vectors: Sequence[tuple], positions="all", schedule: Schedule = None,
          names: Sequence[str | None] | None = None) -> HookSession:
    """Add ``strength * schedule(layer) * vector[layer]`` for each ``(SteeringVector, strength)`` at
    each of the vector's layers.

    Several vectors are summed per layer first, so each steered layer costs one hook. A sum that
    cannot be represented is refused up front; while the model runs, a steered stream that
    overflows or collapses (see `guarded_add`) stops the pass — ``names`` label the vectors then.
    """
    totals: dict[int, torch.Tensor] = {}
    what = []
    for i, (vector, strength) in enumerate(vectors):
        vector.check_fits(lm)
        strength = checked_number(strength, "strength")
        what.append(f"{label(vector, names[i] if names else None)} at strength {strength:g}")
        for layer, direction in vector.directions.items():
            add = strength * _weight(schedule, layer) * direction
            totals[layer] = totals[layer] + add if layer in totals else add
    what = ", ".join(what)
    for layer, add in totals.items():
        if not torch.isfinite(add).all() or float(add.abs().max()) > SQUARE_LIMIT:
            raise LatentspaceError(f"steering with {what} overflows the residual stream at layer {layer} "
                                   f"(largest addition {float(add.abs().max()):.3g}); use a smaller strength")
    where = checked_positions(positions)
    ivs = [Intervention("resid_post", layer, "fn", guarded_add(v, layer, what), positions=where)
           for layer, v in sorted(totals.items())]
    return lm.hooks(interventions=[*ivs, degenerate_logits_guard(what)])


def guarded_add(add: torch.Tensor, layer: int, what: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """``h + add``, refused when the result is non-finite or its squared norm overflows."""
    def apply(h: torch.Tensor) -> torch.Tensor:
        new = h + add.to(h.device, h.dtype)
        overflow = not torch.isfinite(new).all() or not torch.isfinite(new.float().pow(2).sum(-1)).all()
        if overflow:
            raise LatentspaceError(f"steering with {what} overflows the residual stream at layer {layer} "
                                   "(NaN, inf or a norm past float range); use a smaller strength")
        return new

    return apply


def degenerate_logits_guard(what: str) -> Intervention:
    """A check on the logits of a steered pass: all equal (or non-finite) means the stream collapsed."""
    def check(logits: torch.Tensor) -> torch.Tensor:
        flat = logits.detach()[:, -1].float() if logits.dim() == 3 else logits.detach().float()  # last: never a pad
        spread = flat.amax(-1) - flat.amin(-1)
        if not torch.isfinite(flat).all() or bool((spread == 0).any()):
            raise LatentspaceError(f"steering with {what} collapses the residual stream: every next-token "
                                   "logit is equal (or NaN/inf); use a smaller strength")
        return logits

    return Intervention("unembed", None, "fn", check)
