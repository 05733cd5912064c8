"""SteeringVector: one direction per layer, with arithmetic, saving and the model it belongs to.

A vector is a value: arithmetic returns a new vector and never changes its operands. Adding two
vectors adds them layer by layer (a layer only one of them has keeps that one's direction), so
``happy - 0.5 * formal`` is a vector like any other. Directions live on the residual stream
(``resid_post`` of each block: the block's output, where repeng, steering-vectors and llama.cpp
also add them).

Strength 1 means "move the activation by the typical distance between the positive and negative
examples along the direction": every extraction method scales its direction that way, so
strengths are comparable across methods. `normalized()` gives unit directions (repeng's scale).
"""

from __future__ import annotations

import numbers
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from latentspace.core.errors import LatentspaceError
from latentspace.core.saved import check_same, load_tensors, save_tensors
from latentspace.steer.adding import steer

if TYPE_CHECKING:  # the type only: no import at run time
    from latentspace.model.latent_model import LatentModel

KIND = "steering_vector"


@dataclass(frozen=True)
class SteeringVector:
    """``directions[layer]`` is a ``[d]`` float32 vector added to block ``layer``'s output."""

    directions: Mapping[int, torch.Tensor]
    fingerprint: dict | None = None  # the model the vector was read from (None: not tied to one)
    meta: dict = field(default_factory=dict)  # method, layers, position, data hash, concept...

    def __post_init__(self) -> None:
        if not self.directions:
            raise LatentspaceError("a steering vector needs at least one layer")
        clean = {}
        sizes = set()
        try:
            items = sorted((operator.index(k), v) for k, v in self.directions.items())
        except TypeError:
            raise LatentspaceError(f"steering layers are integers, got {list(self.directions)}") from None
        for layer, vec in items:
            vec = torch.as_tensor(vec).detach().to("cpu", torch.float32).reshape(-1)
            if not torch.isfinite(vec).all():
                raise LatentspaceError(f"steering vector for layer {layer} contains NaN or inf")
            if int(layer) < 0:
                raise LatentspaceError(f"layer {layer}: steering layers are block indices >= 0")
            sizes.add(vec.numel())
            clean[int(layer)] = vec
        if len(sizes) != 1:
            raise LatentspaceError(f"steering directions of different sizes: {sorted(sizes)}")
        object.__setattr__(self, "directions", clean)
        object.__setattr__(self, "meta", dict(self.meta))  # never share a caller's dict

    # -- shape ----------------------------------------------------------------------------------
    @property
    def layers(self) -> list[int]:
        return list(self.directions)

    @property
    def hidden_size(self) -> int:
        return next(iter(self.directions.values())).numel()

    def norms(self) -> dict[int, float]:
        return {layer: float(v.norm()) for layer, v in self.directions.items()}

    def __getitem__(self, layer: int) -> torch.Tensor:
        return self.directions[layer]

    def __len__(self) -> int:
        return len(self.directions)

    def __repr__(self) -> str:
        layers = self.layers
        span = f"{layers[0]}-{layers[-1]}" if layers == list(range(layers[0], layers[-1] + 1)) else layers
        return f"SteeringVector(layers={span}, d={self.hidden_size}, method={self.meta.get('method', '?')})"

    # -- arithmetic -----------------------------------------------------------------------------
    def _map(self, fn: Callable[[torch.Tensor], torch.Tensor], **meta) -> SteeringVector:
        return SteeringVector({k: fn(v) for k, v in self.directions.items()}, self.fingerprint, {**self.meta, **meta})

    def __mul__(self, k) -> SteeringVector:
        if not isinstance(k, numbers.Real):
            return NotImplemented
        return self._map(lambda v: v * float(k), scale=f"{self.meta.get('scale', 'pairs')}*{float(k):g}")

    __rmul__ = __mul__

    def __truediv__(self, k) -> SteeringVector:
        if not isinstance(k, numbers.Real):
            return NotImplemented
        if k == 0:
            raise LatentspaceError("cannot divide a steering vector by zero")
        return self._map(lambda v: v / float(k), scale=f"{self.meta.get('scale', 'pairs')}/{float(k):g}")

    def __neg__(self) -> SteeringVector:
        return self._map(lambda v: -v)

    def __add__(self, other) -> SteeringVector:
        if not isinstance(other, SteeringVector):
            return NotImplemented
        if other.hidden_size != self.hidden_size:
            raise LatentspaceError(f"cannot add vectors of size {self.hidden_size} and {other.hidden_size}")
        if self.fingerprint and other.fingerprint:
            check_same(other.fingerprint, self.fingerprint, "steering vector")
        merged = dict(self.directions)
        for layer, v in other.directions.items():
            merged[layer] = merged[layer] + v if layer in merged else v
        names = [v.meta.get("concept") or v.meta.get("method") or "vector" for v in (self, other)]
        meta = {"method": "sum", "concept": " + ".join(names), "layers": sorted(merged)}
        return SteeringVector(merged, self.fingerprint or other.fingerprint, meta)

    def __radd__(self, other) -> SteeringVector:
        if isinstance(other, numbers.Number) and other == 0:  # so sum([a, b, c]) works
            return self
        return NotImplemented

    def __sub__(self, other) -> SteeringVector:
        if not isinstance(other, SteeringVector):
            return NotImplemented
        return self + (-other)

    def normalized(self) -> SteeringVector:
        """Unit direction per layer (strength then means a norm, as in repeng)."""
        return self._map(lambda v: v / v.norm().clamp_min(1e-12), scale="unit")

    def select(self, layers) -> SteeringVector:
        """Only some layers (a list, range or one int)."""
        layers = [layers] if isinstance(layers, int) else list(layers)
        missing = [layer for layer in layers if layer not in self.directions]
        if missing:
            raise LatentspaceError(f"the vector has no layer {missing[0]}; it has {self.layers}")
        return SteeringVector({k: self.directions[k] for k in layers}, self.fingerprint,
                              {**self.meta, "layers": sorted(layers)})

    def cosine(self, other: SteeringVector) -> dict[int, float]:
        """Cosine similarity per shared layer."""
        shared = [layer for layer in self.layers if layer in other.directions]
        return {layer: float(torch.nn.functional.cosine_similarity(self[layer], other[layer], dim=0))
                for layer in shared}

    # -- use ------------------------------------------------------------------------------------
    def check_fits(self, lm: LatentModel) -> None:
        """Refuse a model the vector was not made for (size, layers, fingerprint)."""
        if self.hidden_size != lm.hidden_size:
            raise LatentspaceError(f"steering vector has dimension {self.hidden_size}; the model's is {lm.hidden_size}")
        bad = [layer for layer in self.layers if layer >= lm.n_layers]
        if bad:
            raise LatentspaceError(f"steering layer {bad[0]} out of range: the model has layers 0..{lm.n_layers - 1}")
        if self.fingerprint:
            check_same(self.fingerprint, lm.fingerprint, "steering vector")

    def apply(self, lm: LatentModel, strength: float = 1.0, positions="all", schedule=None, name: str | None = None):
        """Context manager: the model runs steered inside it (see `latentspace.steer.adding.steer`);
        ``name`` (e.g. the file's) labels the vector in errors."""
        return steer(lm, [(self, strength)], positions=positions, schedule=schedule, names=[name])

    # -- files ----------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        if not self.fingerprint:
            raise LatentspaceError("this vector is not tied to a model (no fingerprint); cannot save it")
        tensors = {f"layer.{k}": v for k, v in self.directions.items()}
        return save_tensors(path, tensors, KIND, self.fingerprint, self.meta)

    @classmethod
    def load(cls, path: str | Path, lm: LatentModel | None = None, fingerprint: dict | None = None) -> SteeringVector:
        """Load a saved vector; refuses files made from another model than ``lm`` (or ``fingerprint``),
        and directions that are not one ``[hidden]`` vector per block of that model: every reader
        (steer, bridge transfer, serve...) gets a vector it can use, not a shape error mid-forward."""
        fingerprint = lm.fingerprint if lm is not None else fingerprint
        if fingerprint is None:
            raise LatentspaceError("loading a steering vector needs the model (or its fingerprint) to check against")
        tensors, meta = load_tensors(path, KIND, fingerprint, what="steering vector")
        name, width, blocks = Path(path).name, fingerprint.get("hidden_size"), fingerprint.get("n_layers")
        directions = {}
        for key, value in tensors.items():
            prefix, _, layer = key.partition(".")
            if prefix != "layer" or not layer.isdigit():
                raise LatentspaceError(f"{name}: tensor {key[:60]!r} is not a layer.N direction")
            # the constructor flattens what it is given: a [2, d] direction would pass as one of 2d
            if value.dim() != 1 or (type(width) is int and value.numel() != width):
                raise LatentspaceError(f"{name}: direction {key} has shape {list(value.shape)}; a direction is "
                                       f"one vector of the model's width [{width}]")
            if type(blocks) is int and int(layer) >= blocks:
                raise LatentspaceError(f"{name}: direction {key} steers block {int(layer)}; the model has blocks "
                                       f"0..{blocks - 1}")
            directions[int(layer)] = value
        return cls(directions, fingerprint, meta)
