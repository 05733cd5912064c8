"""A map between two models' hidden spaces, one linear map per (sharer, receiver) block pair.

Each side is standardised first (centred, divided by its RMS norm: a scalar, so an orthogonal map
stays orthogonal), then ``y = ((x - mx) / sx) @ W * sy + my``. A *direction* (a steering vector, a
difference of means) moves by the linear part alone: ``(v / sx) @ W * sy``.

Saved with both models' fingerprints; loading against another pair is refused naming all four.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from latentspace.core import saved
from latentspace.core.errors import LatentspaceError

KIND = "bridge_map"


@dataclass
class LayerMap:
    weight: torch.Tensor  # [d_s, d_r]
    x_mean: torch.Tensor  # [d_s]
    x_scale: float
    y_mean: torch.Tensor  # [d_r]
    y_scale: float

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight.to(x.dtype)
        return ((x - self.x_mean.to(x.dtype)) / self.x_scale) @ w * self.y_scale + self.y_mean.to(x.dtype)

    def direction(self, v: torch.Tensor) -> torch.Tensor:
        return (v.to(self.weight.dtype) / self.x_scale) @ self.weight * self.y_scale


@dataclass
class HiddenMap:
    """``layers[(s, r)]``: the map from sharer block s to receiver block r."""

    layers: dict[tuple[int, int], LayerMap]
    sharer: dict  # fingerprints
    receiver: dict
    meta: dict = field(default_factory=dict)  # method, texts, held-out fit per pair, model names

    def pairs(self) -> list[tuple[int, int]]:
        return sorted(self.layers)

    def save(self, path: str | Path) -> Path:
        tensors = {}
        for (s, r), m in self.layers.items():
            tensors[f"{s}:{r}/weight"] = m.weight.float()
            tensors[f"{s}:{r}/x_mean"], tensors[f"{s}:{r}/y_mean"] = m.x_mean.float(), m.y_mean.float()
            tensors[f"{s}:{r}/scales"] = torch.tensor([m.x_scale, m.y_scale], dtype=torch.float32)
        return saved.save_tensors(path, tensors, KIND, self.receiver, {**self.meta, "sharer_fingerprint": self.sharer})

    @classmethod
    def load(cls, path: str | Path, sharer: dict, receiver: dict) -> HiddenMap:
        """The map at ``path`` if it was fitted from ``sharer`` to ``receiver`` (fingerprints)."""
        check_pair(path, KIND, "bridge map", sharer, receiver)
        tensors, meta = saved.load_tensors(path, KIND, receiver, what="bridge map")
        layers = {}
        for key in tensors:
            if key.endswith("/weight"):
                name = key.removesuffix("/weight")
                try:
                    s, r = (int(v) for v in name.split(":"))
                    scales = tensors[f"{name}/scales"]
                    if scales.shape != (2,):
                        raise ValueError
                    layers[(s, r)] = LayerMap(tensors[key], tensors[f"{name}/x_mean"], float(scales[0]),
                                              tensors[f"{name}/y_mean"], float(scales[1]))
                except (KeyError, ValueError):
                    raise LatentspaceError(f"{Path(path).name}: malformed layer {name!r}") from None
                fault = _fault(s, r, layers[(s, r)], sharer, receiver)
                if fault:
                    raise LatentspaceError(f"{Path(path).name}: layer {name!r} {fault}")
        if not layers:
            raise LatentspaceError(f"{Path(path).name}: a bridge map with no layers")
        meta.pop("sharer_fingerprint", None)
        return cls(layers, sharer, receiver, meta)


def _fault(s: int, r: int, m: LayerMap, sharer: dict, receiver: dict) -> str | None:
    """What makes a loaded pair's map unusable for these two models (None when nothing): blocks out
    of their ranges (-1: the inputs), or tensors not shaped ``[d_s, d_r]``, ``[d_s]``, ``[d_r]``."""
    for side, block, fp in (("sharer", s, sharer), ("receiver", r, receiver)):
        if not -1 <= block < fp["n_layers"]:
            return f"names {side} block {block}; the {side} has blocks 0-{fp['n_layers'] - 1} (or -1, its inputs)"
    d_s, d_r = sharer["hidden_size"], receiver["hidden_size"]
    shapes = {"weight": (m.weight, (d_s, d_r)), "x_mean": (m.x_mean, (d_s,)), "y_mean": (m.y_mean, (d_r,))}
    for part, (tensor, want) in shapes.items():
        if tuple(tensor.shape) != want:
            return f"has {part} of shape {list(tensor.shape)}, not {list(want)} (the two models' widths)"
    if not (m.x_scale > 0 and m.y_scale > 0):
        return f"has scales {m.x_scale:g} and {m.y_scale:g}; both must be positive"
    return None


def check_pair(path: str | Path, kind: str, what: str, sharer: dict, receiver: dict) -> dict:
    """The meta of a two-model file if it was made from ``sharer`` to ``receiver``; else one line naming all four."""
    header = saved.read_header(path, what)
    if header.get("kind") != kind:
        raise LatentspaceError(f"{Path(path).name} is not a saved {what} (it holds: {header.get('kind', 'unknown')})")
    meta = saved.header_json(header, "meta", path, default={})
    saved_s = saved.saved_fingerprint(meta.get("sharer_fingerprint") if isinstance(meta, dict) else None,
                                   f"{what} {Path(path).name} (sharer)")
    saved_r = saved.saved_fingerprint(saved.header_json(header, "fingerprint", path),
                                      f"{what} {Path(path).name} (receiver)")
    if (saved_s, saved_r) != (sharer, receiver):
        raise LatentspaceError(f"this {what} was fitted from [{saved.describe(saved_s)}] to "
                               f"[{saved.describe(saved_r)}], "
                               f"not from the loaded [{saved.describe(sharer)}] to [{saved.describe(receiver)}]")
    return meta


def standardise(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, float]:
    """(x centred and divided by its RMS row norm, the mean, the scale) in float64."""
    x = x.double()
    mean = x.mean(0)
    centred = x - mean
    scale = float(centred.norm(dim=1).pow(2).mean().sqrt().clamp_min(1e-12))
    return centred / scale, mean, scale


def fitted(weight: torch.Tensor, x_mean, x_scale, y_mean, y_scale) -> LayerMap:
    return LayerMap(weight.float(), x_mean.float(), x_scale, y_mean.float(), y_scale)


def fit_quality(m: LayerMap, x: torch.Tensor, y: torch.Tensor) -> dict:
    """Held-out R² (1 - residual / variance of y) and the mean cosine of predicted and true *centred*
    states (the raw cosine is flattered by the shared mean direction)."""
    pred = m(x.float()).double()
    y = y.double()
    mean = y.mean(0)
    r2 = 1 - float((y - pred).pow(2).sum() / (y - mean).pow(2).sum().clamp_min(1e-12))
    cos = torch.nn.functional.cosine_similarity(pred - mean, y - mean, dim=1)
    return {"r2": r2, "cosine": float(cos.mean()), "n": len(y)}
