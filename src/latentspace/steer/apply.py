"""Apply vectors while the model runs: add, ablate (project out) or clamp — through hooks only.

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

from collections.abc import Callable, Mapping, Sequence

import torch

from latentspace.errors import LatentspaceError
from latentspace.model.hooks import ROLES, HookSession, Intervention
from latentspace.steer.vector import SteeringVector

Schedule = Mapping[int, float] | Callable[[int], float] | None
# Float32's largest square root: a stream coordinate past it overflows the norm layers' mean of squares
# (RMSNorm then returns zeros, every logit is equal, and the model "answers" with empty text).
SQUARE_LIMIT = 1.8e19


def _positions(positions):
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


def _strength(value, what: str) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise LatentspaceError(f"{what} must be a number, not {value!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise LatentspaceError(f"{what} must be finite")
    return value


def label(vector: SteeringVector, name: str | None = None) -> str:
    """How an error names a vector: its file, else its concept or method."""
    return name or vector.meta.get("source") or vector.meta.get("concept") or vector.meta.get("method") or "vector"


def steer(lm, vectors: Sequence[tuple[SteeringVector, float]], positions="all", schedule: Schedule = None,
          names: Sequence[str | None] | None = None) -> HookSession:
    """Add ``strength * schedule(layer) * vector[layer]`` for each vector at each of its layers.

    Several vectors are summed per layer first, so each steered layer costs one hook. A sum that
    cannot be represented is refused up front; while the model runs, a steered stream that
    overflows or collapses (see `guarded_add`) stops the pass — ``names`` label the vectors then.
    """
    totals: dict[int, torch.Tensor] = {}
    what = []
    for i, (vector, strength) in enumerate(vectors):
        vector.check_fits(lm)
        strength = _strength(strength, "strength")
        what.append(f"{label(vector, names[i] if names else None)} at strength {strength:g}")
        for layer, direction in vector.directions.items():
            add = strength * _weight(schedule, layer) * direction
            totals[layer] = totals[layer] + add if layer in totals else add
    what = ", ".join(what)
    for layer, add in totals.items():
        if not torch.isfinite(add).all() or float(add.abs().max()) > SQUARE_LIMIT:
            raise LatentspaceError(f"steering with {what} overflows the residual stream at layer {layer} "
                                   f"(largest addition {float(add.abs().max()):.3g}); use a smaller strength")
    where = _positions(positions)
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


def _per_layer(lm, direction, layers) -> dict[int, torch.Tensor]:
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
    from latentspace.steer.train import resolve_layers

    chosen = list(range(lm.n_layers)) if layers is None else resolve_layers(layers, lm.n_layers)
    if chosen == "best":
        raise LatentspaceError("'best' chooses layers for training; give the layers to act on")
    return {x: direction for x in chosen}


def ablate(lm, direction: SteeringVector | torch.Tensor, layers: Sequence[int] | None = None,
           positions="all") -> HookSession:
    """Directional ablation: remove the component along ``direction`` from the residual stream.

    It is projected out of the stream entering the first chosen block, out of each chosen block's
    attention output (in sequential blocks the MLP then reads a stream without it) and out of each
    chosen block's output, so the stream's projection on it is zero at the output of every chosen
    layer. Default: every layer (then also between them).
    """
    per_layer = _per_layer(lm, direction, layers)
    where = _positions(positions)
    first = min(per_layer)
    ivs = [Intervention("resid_pre", first, "project_out", per_layer[first], positions=where)]
    for layer, d in sorted(per_layer.items()):
        ivs.append(Intervention("attn_out", layer, "project_out", d, positions=where))
        ivs.append(Intervention("resid_post", layer, "project_out", d, positions=where))
    return lm.hooks(interventions=ivs)


def clamp(lm, direction: SteeringVector | torch.Tensor, value: float, layers: Sequence[int] | None = None,
          positions="all") -> HookSession:
    """Set the stream's coordinate along the (unit) direction to ``value`` at each chosen layer."""
    value = _strength(value, "clamp value")
    if abs(value) > SQUARE_LIMIT:
        raise LatentspaceError(f"clamp value {value:g} overflows the residual stream; use a smaller one")
    per_layer = _per_layer(lm, direction, layers)
    where = _positions(positions)
    ivs = []
    for layer, d in sorted(per_layer.items()):
        unit = d / d.norm().clamp_min(1e-12)

        def set_coordinate(h: torch.Tensor, unit=unit) -> torch.Tensor:
            u = unit.to(h.device, h.dtype)
            return h + (value - (h * u).sum(-1, keepdim=True)) * u

        ivs.append(Intervention("resid_post", layer, "fn", set_coordinate, positions=where))
    return lm.hooks(interventions=[*ivs, degenerate_logits_guard(f"a clamp to {value:g}")])
