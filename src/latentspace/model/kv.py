"""KV-cache utilities: the one place that talks to transformers' cache API.

Callers work with these functions (and `LatentState`); when transformers changes its cache
classes again, only this file changes. Caches are full (non-sliding) `DynamicCache`s so every
layer holds every position and slicing/concatenation stay exact.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Sequence

import torch
from transformers import Cache, DynamicCache

from latentspace.core.errors import LatentspaceError

KV = list[tuple[torch.Tensor, torch.Tensor]]  # per layer: keys, values [batch, kv_heads, seq, head_dim]


def cache_kwarg(model: torch.nn.Module) -> str:
    """Name of the forward argument that takes the cache (`cache` in transformers >= 5.2x)."""
    return _cache_kwarg_of(type(model))


@functools.cache
def _cache_kwarg_of(cls: type) -> str:  # once per class: training passes ask on every call
    params = inspect.signature(cls.forward).parameters
    return "cache" if "cache" in params else "past_key_values"


def output_cache(output) -> DynamicCache:
    cache = getattr(output, "cache", None)
    return cache if cache is not None else output.past_key_values


def new_cache() -> DynamicCache:
    return DynamicCache()


def holds_slot(cache, slot: int) -> bool:
    """Can ``cache`` take keys and values at layer index ``slot`` (beyond the model's layers)?

    Our caches (`new_cache`) grow a layer for any index; one transformers builds from a config
    has exactly the model's layers.
    """
    return getattr(cache, "layer_class_to_replicate", None) is not None or slot < len(getattr(cache, "layers", []))


def find_cache(args: Sequence, kwargs: dict):
    """The cache a layer was called with: by keyword (Llama & co.) or by position (GPT-2); None without one."""
    found = kwargs.get("cache", kwargs.get("past_key_values"))
    return found if found is not None else next((a for a in args if isinstance(a, Cache)), None)


def slot_length(cache, slot: int) -> int:
    """Positions held at layer index ``slot`` (0 for a slot the cache has not grown yet)."""
    layers = getattr(cache, "layers", [])
    return layers[slot].get_seq_length() if slot < len(layers) else 0


def to_tensors(cache: DynamicCache) -> KV:
    """Per-layer (keys, values)."""
    return [(layer.keys, layer.values) for layer in cache.layers]


def from_tensors(pairs: KV) -> DynamicCache:
    cache = DynamicCache()
    for i, (k, v) in enumerate(pairs):
        cache.update(k, v, i)
    return cache


def seq_length(cache: DynamicCache) -> int:
    return cache.get_seq_length()


def clone(cache: DynamicCache) -> DynamicCache:
    return from_tensors([(k.clone(), v.clone()) for k, v in to_tensors(cache)])


def truncate(cache: DynamicCache, length: int) -> DynamicCache:
    """A new cache holding the first ``length`` positions."""
    if not 0 <= length <= seq_length(cache):
        raise LatentspaceError(f"cannot truncate a cache of {seq_length(cache)} positions to {length}")
    return from_tensors([(k[:, :, :length].clone(), v[:, :, :length].clone()) for k, v in to_tensors(cache)])


def cut_in_place(cache: DynamicCache, length: int) -> None:
    """Drop every layer's slots from ``length`` on, in place (a pass's extra probe slots, once read)."""
    for layer in cache.layers:
        layer.keys, layer.values = layer.keys[:, :, :length], layer.values[:, :, :length]


def keep_slots_in_place(cache: DynamicCache, layer: int, start: int, index: torch.Tensor) -> None:
    """Keep, in layer ``layer``, the slots ``start:`` picked by ``index`` ``[B, H, k]`` (per row and head,
    in place: what a press does to the pass that wrote them); the slots before ``start`` stay."""
    held = cache.layers[layer]

    def kept(tensor: torch.Tensor) -> torch.Tensor:
        ix = index.to(tensor.device)[..., None].expand(-1, -1, -1, tensor.shape[-1])
        return torch.cat([tensor[:, :, :start], tensor[:, :, start:].gather(2, ix)], 2)
    held.keys, held.values = kept(held.keys), kept(held.values)


def select(cache: DynamicCache, positions: Sequence[int] | torch.Tensor) -> DynamicCache:
    """A new cache holding only ``positions`` (in order)."""
    index = torch.as_tensor(positions, dtype=torch.long)
    n = seq_length(cache)
    if index.numel() and (index.min() < -n or index.max() >= n):
        raise LatentspaceError(f"positions out of range for a cache of {n} positions")
    return from_tensors([(k[:, :, index.to(k.device)], v[:, :, index.to(v.device)]) for k, v in to_tensors(cache)])


def select_batch(cache: DynamicCache, rows: Sequence[int] | torch.Tensor) -> DynamicCache:
    index = torch.as_tensor(rows, dtype=torch.long)
    return from_tensors([(k[index.to(k.device)], v[index.to(v.device)]) for k, v in to_tensors(cache)])


def concat(caches: Sequence[DynamicCache]) -> DynamicCache:
    """Positions of ``caches`` one after the other (same batch size and layers)."""
    parts = [to_tensors(c) for c in caches]
    if len({len(p) for p in parts}) != 1:
        raise LatentspaceError("cannot concatenate caches with different numbers of layers")
    return from_tensors(
        [(torch.cat([p[i][0] for p in parts], 2), torch.cat([p[i][1] for p in parts], 2)) for i in range(len(parts[0]))]
    )


def flatten(cache: DynamicCache) -> dict[str, torch.Tensor]:
    """Tensors keyed for safetensors."""
    out = {}
    for i, (k, v) in enumerate(to_tensors(cache)):
        out[f"kv.{i}.k"], out[f"kv.{i}.v"] = k.contiguous(), v.contiguous()
    return out


def unflatten(tensors: dict[str, torch.Tensor]) -> DynamicCache:
    n = len([k for k in tensors if k.startswith("kv.") and k.endswith(".k")])
    try:
        return from_tensors([(tensors[f"kv.{i}.k"], tensors[f"kv.{i}.v"]) for i in range(n)])
    except KeyError as err:
        raise LatentspaceError(f"saved cache is missing {err.args[0]}") from err
